package browsertest

import (
	"io"
	"log"
)

// discardLogger silences net/http's own error log for the proxy: a test harness must not print
// about requests either, and the failures it would report are asserted on by tests instead.
func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
