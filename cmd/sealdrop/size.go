package main

import (
	"fmt"
	"strconv"
	"strings"
)

// sizeFlag is a byte count written as digits with an optional binary suffix: K, M or G
// (also KiB, MiB, GiB, KB, MB, GB: all powers of 1024).
type sizeFlag int64

// String writes the size as a person would type it: the largest suffix that divides it
// exactly ("256M", not "268435456"), so that -h shows defaults in the flag's own grammar.
func (s *sizeFlag) String() string {
	n := int64(*s)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

// parseSize reads digits, then optionally K, M or G (with B or iB after it), or B alone:
// "65536", "512K", "64MiB", "1GB", "5B". Case and surrounding space are ignored; a sign,
// a fraction, or a suffix out of that grammar ("5I", "5iB") is refused.
func parseSize(v string) (int64, error) {
	bad := fmt.Errorf("bad size %q: want e.g. 65536, 512K, 64M or 1G", v)
	t := strings.ToUpper(strings.TrimSpace(v))
	digits := len(t) - len(strings.TrimLeft(t, "0123456789"))
	num, suffix := t[:digits], t[digits:]
	mult := map[string]int64{"": 1, "B": 1,
		"K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10,
		"M": 1 << 20, "MB": 1 << 20, "MIB": 1 << 20,
		"G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30}[suffix]
	if num == "" || mult == 0 {
		return 0, bad
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || (n > 0 && mult > (1<<62)/n) {
		return 0, bad
	}
	return n * mult, nil
}
