//go:build linux

package proof

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// scanMemory counts, for each needle, its occurrences in every readable mapping of process
// pid, read through /proc/PID/mem from this process (root, or the same user with ptrace
// allowed). Mappings the kernel refuses to read ([vvar], device memory) are skipped and
// counted in skipped.
func scanMemory(t *testing.T, pid int, needles [][]byte) (hits []int, scanned int64, skipped int) {
	t.Helper()
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	require.NoError(t, err)
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	require.NoError(t, err)
	defer mem.Close()
	longest := 0
	for _, n := range needles {
		longest = max(longest, len(n))
	}
	const chunk = 4 << 20
	buf := make([]byte, chunk+longest)
	hits = make([]int, len(needles))
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[1][0] != 'r' {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		require.NoError(t, err1)
		require.NoError(t, err2)
		for off := start; off < end; off += chunk {
			// Read the chunk plus an overlap, so a needle across a chunk edge is found; count a
			// hit only if it starts inside the chunk proper.
			want := min(uint64(len(buf)), end-off)
			n, err := mem.ReadAt(buf[:want], int64(off))
			if n == 0 && err != nil {
				skipped++
				break
			}
			p := buf[:n]
			for i, nd := range needles {
				for j := 0; ; {
					k := bytes.Index(p[j:], nd)
					if k < 0 {
						break
					}
					if j+k < chunk {
						hits[i]++
					}
					j += k + 1
				}
			}
			scanned += int64(min(n, chunk))
		}
	}
	return hits, scanned, skipped
}

func total(h []int) int {
	s := 0
	for _, v := range h {
		s += v
	}
	return s
}
