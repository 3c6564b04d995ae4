package protocol_test

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/sealdrop/sealdrop/internal/protocol"
)

// A sender seals a note; the reader opens it with the key from the link's fragment.
func Example() {
	s, err := protocol.NewNoteSecrets("", "")
	if err != nil {
		panic(err)
	}
	files := []protocol.FileInput{{Name: "a.txt", Type: "text/plain", Size: 5, R: strings.NewReader("hello")}}
	n, _ := protocol.SealedNoteLen("meet at six", []protocol.File{{Name: "a.txt", Type: "text/plain", Size: 5}})
	var ciphertext bytes.Buffer
	if err := protocol.SealNote(&ciphertext, s, "meet at six", files); err != nil {
		panic(err)
	}
	link := "/n/ID#" + s.Fragment().String()

	frag, _ := protocol.ParseFragment(link[strings.IndexByte(link, '#'):])
	m, data, err := protocol.OpenNote(&ciphertext, frag.Secret[:], "")
	if err != nil {
		panic(err)
	}
	fmt.Println(int64(ciphertext.Cap()) >= n, m.Text, m.Files[0].Name, string(data[0]))
	// Output: true meet at six a.txt hello
}

func ExampleNormalizePIN() {
	pin, _ := protocol.NormalizePIN("١٢٣٤٥٦")
	_, err := protocol.NormalizePIN("12 34 56")
	fmt.Println(pin, err != nil)
	// Output: 123456 true
}

// Worked by hand: 1000 has E=9, S=4, so it rounds up to a multiple of 2^5 = 32.
func ExamplePadme() {
	fmt.Println(protocol.Padme(1000), protocol.Padme(65537), protocol.Padme(1<<20+1))
	// Output: 1024 67584 1081344
}
