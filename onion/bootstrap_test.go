package onion

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cretz/bine/control"
)

func TestParseBootstrap(t *testing.T) {
	ev := control.ParseStatusEvent(control.EventCodeStatusClient,
		`WARN BOOTSTRAP PROGRESS=10 TAG=conn_done SUMMARY="Connected to a relay" WARNING="Connection \"refused\"" REASON=CONNECTREFUSED COUNT=3 RECOMMENDATION=ignore HOSTID="$AAAA" HOSTADDR="192.0.2.7:9001"`)
	b, ok := parseBootstrap(ev.Raw)
	if !ok {
		t.Fatal("not parsed")
	}
	want := Bootstrap{Percent: 10, Tag: "conn_done", Summary: "Connected to a relay", Warning: `Connection "refused"`, Reason: "CONNECTREFUSED"}
	if b != want {
		t.Fatalf("got %+v, want %+v", b, want)
	}
	if b.String() != "10% Connected to a relay" {
		t.Errorf("String() = %q", b.String())
	}
	for _, bad := range []string{"NOTICE BOOTSTRAP PROGRESS=101", "NOTICE BOOTSTRAP PROGRESS=-1", "NOTICE BOOTSTRAP PROGRESS=x",
		"NOTICE BOOTSTRAP TAG=done", "NOTICE CIRCUIT_ESTABLISHED PROGRESS=5", ""} {
		if b, ok := parseBootstrap(bad); ok {
			t.Errorf("%q parsed as %+v", bad, b)
		}
	}
	// GETINFO's form, and an unterminated quote at the end, are read without a panic.
	if b, ok := parseBootstrap(`NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done`); !ok || b.Summary != "Done" {
		t.Errorf("got %+v, %v", b, ok)
	}
}

// The stall error says where tor stopped, what tor complained of, and the usual causes; it
// never carries the guard's address.
func TestStallError(t *testing.T) {
	b := Bootstrap{Percent: 10, Tag: "conn_done", Summary: "Connected to a relay"}
	w := Bootstrap{Percent: 10, Warning: "Connection refused", Reason: "CONNECTREFUSED"}
	err := stallError(b, w, 2*time.Minute)
	if !errors.Is(err, ErrBootstrapStalled) {
		t.Fatalf("%v is not ErrBootstrapStalled", err)
	}
	for _, want := range []string{"2m0s", "10%", "conn_done: Connected to a relay", "Connection refused (CONNECTREFUSED)", "no network", "clock", "guard", "bridges"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

func TestStallTimeoutConfig(t *testing.T) {
	c, err := Config{Control: "unix:/run/tor/control", Ephemeral: true, Target: "unix:/run/x.sock"}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	if c.StallTimeout != DefaultStallTimeout {
		t.Errorf("StallTimeout default %v", c.StallTimeout)
	}
	_, err = Config{Control: "unix:/run/tor/control", Ephemeral: true, Target: "unix:/run/x.sock", StallTimeout: -1}.normalize()
	if !errors.Is(err, ErrConfig) {
		t.Errorf("negative StallTimeout: %v", err)
	}
}
