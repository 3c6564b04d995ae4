package protocol

import (
	"fmt"
	"strings"
	"unicode"
)

// MinPINDigits is the shortest PIN the client accepts.
const MinPINDigits = 6

// digitValue returns the value of a Unicode decimal digit (category Nd). Unicode guarantees
// that decimal digits are encoded in contiguous runs of ten, 0 to 9, so within a range of
// the Nd table (whose ranges start at a zero and hold whole runs) the value is the offset
// modulo ten. ok is false for anything that is not Nd.
func digitValue(r rune) (v byte, ok bool) {
	if r >= '0' && r <= '9' {
		return byte(r - '0'), true
	}
	if !unicode.Is(unicode.Nd, r) {
		return 0, false
	}
	for _, rg := range unicode.Nd.R16 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return byte((r - rune(rg.Lo)) / rune(rg.Stride) % 10), true
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return byte((r - rune(rg.Lo)) / rune(rg.Stride) % 10), true
		}
	}
	return 0, false
}

// mapDigits replaces every Unicode decimal digit by its ASCII digit and keeps every other
// character. StretchPIN uses it so that a PIN typed with another keyboard's digits stretches
// to the same P even when the caller skipped NormalizePIN.
func mapDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if v, ok := digitValue(r); ok {
			b.WriteByte('0' + v)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// NormalizePIN maps Unicode decimal digits (Arabic-Indic, full-width, ...) to ASCII and
// refuses anything else, including spaces, and PINs shorter than six digits. Error messages
// are meant for users.
func NormalizePIN(s string) (string, error) {
	var b strings.Builder
	n := 0
	for _, r := range s {
		v, ok := digitValue(r)
		if !ok {
			return "", fmt.Errorf("%w: a PIN may contain only digits", ErrPIN)
		}
		b.WriteByte('0' + v)
		n++
	}
	if n < MinPINDigits {
		return "", fmt.Errorf("%w: a PIN needs at least %d digits", ErrPIN, MinPINDigits)
	}
	return b.String(), nil
}

// CheckPINs applies the sender's rules: each PIN that is set must be valid, a destruct PIN
// needs a PIN, and the two must differ (after normalisation), or the duress PIN would open
// the note.
func CheckPINs(pin, dpin string) error {
	var np, nd string
	var err error
	if pin != "" {
		if np, err = NormalizePIN(pin); err != nil {
			return err
		}
	}
	if dpin == "" {
		return nil
	}
	if pin == "" {
		return fmt.Errorf("%w: a destruct PIN needs a PIN", ErrPIN)
	}
	if nd, err = NormalizePIN(dpin); err != nil {
		return fmt.Errorf("%w (destruct PIN)", err)
	}
	if nd == np {
		return fmt.Errorf("%w: the destruct PIN must differ from the PIN", ErrPIN)
	}
	return nil
}
