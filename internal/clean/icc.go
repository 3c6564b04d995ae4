package clean

import "encoding/binary"

// ICC colour profiles, as static/js/clean/icc.js: kept (a wide-gamut photo shown without its
// profile changes colour), rebuilt from an allow-list of the tags that define colours; the
// header's device, platform, creator, date and ID fields zeroed; the description "Colour
// profile".

const iccLabel = "Device, software and date details in the colour profile (ICC)"

var colourTags = map[string]bool{
	"rXYZ": true, "gXYZ": true, "bXYZ": true, "rTRC": true, "gTRC": true, "bTRC": true, "kTRC": true,
	"wtpt": true, "bkpt": true, "chad": true, "chrm": true, "lumi": true,
	"A2B0": true, "A2B1": true, "A2B2": true, "A2B3": true, "B2A0": true, "B2A1": true, "B2A2": true, "B2A3": true,
	"D2B0": true, "D2B1": true, "D2B2": true, "D2B3": true, "B2D0": true, "B2D1": true, "B2D2": true, "B2D3": true,
	"gamt": true, "cicp": true, "clro": true,
}

const descText = "Colour profile"

func descLen(version byte) int {
	if version >= 4 {
		return 28 + len(descText)*2
	}
	return 12 + len(descText) + 1 + 8 + 3 + 67
}

func putDesc(out []byte, version byte) {
	if version >= 4 {
		copy(out, "mluc")
		binary.BigEndian.PutUint32(out[8:], 1)
		binary.BigEndian.PutUint32(out[12:], 12)
		copy(out[16:], "enUS")
		binary.BigEndian.PutUint32(out[20:], uint32(len(descText)*2))
		binary.BigEndian.PutUint32(out[24:], 28)
		for i := 0; i < len(descText); i++ {
			out[29+2*i] = descText[i]
		}
		return
	}
	copy(out, "desc")
	binary.BigEndian.PutUint32(out[8:], uint32(len(descText)+1))
	copy(out[12:], descText)
}

type iccTag struct {
	sig      [4]byte
	off, len uint32
}

// cleanICC returns the rebuilt profile, written into sc.
func cleanICC(p []byte, sc *Scratch) ([]byte, error) {
	if len(p) < 132 {
		return nil, fail("a colour profile is cut short")
	}
	size := binary.BigEndian.Uint32(p)
	if uint64(size) > uint64(len(p)) || size < 132 || string(p[36:40]) != "acsp" {
		return nil, fail("a colour profile is damaged")
	}
	version := p[8]
	count := binary.BigEndian.Uint32(p[128:])
	if count > 1000 || 132+uint64(count)*12 > uint64(size) {
		return nil, fail("a colour profile is damaged")
	}
	var keep []iccTag
	for i := range count {
		e := 132 + i*12
		t := iccTag{sig: [4]byte(p[e : e+4]), off: binary.BigEndian.Uint32(p[e+4:]), len: binary.BigEndian.Uint32(p[e+8:])}
		if t.off < 132 || uint64(t.off)+uint64(t.len) > uint64(size) {
			return nil, fail("a colour profile is damaged")
		}
		if colourTags[string(t.sig[:])] {
			keep = append(keep, t)
		}
	}
	if len(keep) == 0 {
		return nil, fail("a colour profile holds no colour data")
	}
	dl := descLen(version)
	n := len(keep) + 1
	pos := uint64(132 + n*12)
	type block struct {
		at  uint64
		src []byte
	}
	placed := map[[2]uint32]uint64{}
	table := make([]iccTag, 0, n)
	var blocks []block
	for _, t := range keep {
		k := [2]uint32{t.off, t.len}
		at, ok := placed[k]
		if !ok {
			at = pos
			placed[k] = at
			blocks = append(blocks, block{at, p[t.off : t.off+t.len]})
			pos += (uint64(t.len) + 3) &^ 3
		}
		table = append(table, iccTag{sig: t.sig, off: uint32(at), len: t.len})
	}
	descAt := pos
	table = append(table, iccTag{sig: [4]byte{'d', 'e', 's', 'c'}, off: uint32(descAt), len: uint32(dl)})
	pos += (uint64(dl) + 3) &^ 3
	if pos > 1<<31 {
		return nil, fail("a colour profile is damaged")
	}
	out, err := sc.alloc(int(pos))
	if err != nil {
		return nil, err
	}
	copy(out, p[:128])
	binary.BigEndian.PutUint32(out, uint32(pos))
	for _, r := range [][2]int{{4, 8}, {24, 36}, {40, 44}, {48, 64}, {80, 128}} {
		clear(out[r[0]:r[1]])
	}
	binary.BigEndian.PutUint32(out[128:], uint32(n))
	for i, t := range table {
		copy(out[132+i*12:], t.sig[:])
		binary.BigEndian.PutUint32(out[136+i*12:], t.off)
		binary.BigEndian.PutUint32(out[140+i*12:], t.len)
	}
	for _, b := range blocks {
		copy(out[b.at:], b.src)
	}
	putDesc(out[descAt:], version)
	return out, nil
}
