package protocol

import (
	"fmt"
	"slices"
	"strings"
)

// MinPINDigits is the shortest PIN the client accepts.
const MinPINDigits = 6

// digitZeros is the frozen table of Unicode decimal digits (general category Nd) of Unicode
// 15.0.0: each entry is the code point of a zero that starts a run of ten digits, 0 to 9.
// It is frozen, not read from the runtime's Unicode tables, because a PIN must normalise the
// same way in every client for the life of a note: a digit added in a later Unicode version
// (Sunuwar, Garay, ... in 16.0) would be accepted by a newer browser and refused, or
// stretched unmapped, by an older one. static/js/protocol.js holds the same table, and the
// vectors (pin.digit_zeros) check both against it.
var digitZeros = [...]rune{
	0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6,
	0xC66, 0xCE6, 0xD66, 0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0,
	0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620,
	0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x11066,
	0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0,
	0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x11F50, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8,
	0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0, 0x1E950, 0x1FBF0,
}

// digitValue returns the value of a decimal digit of the frozen table; ok is false for
// anything else.
func digitValue(r rune) (v byte, ok bool) {
	i, found := slices.BinarySearch(digitZeros[:], r)
	if found {
		return 0, true
	}
	if i == 0 || r-digitZeros[i-1] >= 10 {
		return 0, false
	}
	return byte(r - digitZeros[i-1]), true
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

// NormalizePIN maps the decimal digits of the frozen Unicode 15.0 table (Arabic-Indic,
// Devanagari, full-width, ...) to ASCII and refuses anything else, including spaces, and
// PINs shorter than six digits. Error messages are meant for users.
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
