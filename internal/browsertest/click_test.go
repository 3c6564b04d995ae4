package browsertest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Click's retry (no browser): a click whose target left the viewport between the scroll and
// the pointer's move is scrolled and sent once more; any other error is returned at once, and
// a target still out of bounds the second time is an error.
func TestClickInViewRetriesOnceOutOfBounds(t *testing.T) {
	outOfBounds := &CommandError{Method: "input.performActions", Code: codeMoveOutOfBounds, Message: "Move target (431, 606) is out of bounds of viewport dimensions (1200, 600)"}
	other := &CommandError{Method: "input.performActions", Code: "no such element", Message: "gone"}
	scrollFailed := errors.New("scroll failed")
	for _, c := range []struct {
		name           string
		clicks         []error // what each click answers, in turn
		scrollErr      error
		want           error
		scrolls, sends int
	}{
		{"first click lands", []error{nil}, nil, nil, 1, 1},
		{"moved once, then lands", []error{outOfBounds, nil}, nil, nil, 2, 2},
		{"moved twice", []error{outOfBounds, outOfBounds}, nil, outOfBounds, 2, 2},
		{"another browser error is not retried", []error{other, nil}, nil, other, 1, 1},
		{"moved, then another error", []error{outOfBounds, other}, nil, other, 2, 2},
		{"a failed scroll clicks nothing", []error{nil}, scrollFailed, scrollFailed, 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			scrolls, sends := 0, 0
			err := clickInView(func() error { scrolls++; return c.scrollErr }, func() error {
				e := c.clicks[sends]
				sends++
				return e
			})
			assert.Equal(t, c.want, err)
			assert.Equal(t, c.scrolls, scrolls, "scrolls")
			assert.Equal(t, c.sends, sends, "clicks sent")
		})
	}
}
