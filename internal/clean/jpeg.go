package clean

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
)

// JPEG: a port of static/js/clean/jpeg.js, the same allow-list of marker segments, the same
// checks and the same words. Kept: the tables and headers a decoder needs (DQT, DHT, DAC, SOFn,
// DRI, SOS, DNL, RSTn), each checked to be exactly as long as its contents; the scans'
// entropy-coded data, byte for byte (a scan that starts with a stuffed FF 00 or a restart
// marker included: issue 16); JFIF without its thumbnail; Adobe's colour-transform segment;
// the ICC profile, rebuilt (icc.go); and the EXIF orientation alone, written anew. Removed:
// EXIF, XMP, IPTC/Photoshop, comments, MPF and every other APPn, thumbnails, and anything after
// the end-of-image marker. The reserved JPG (FFC8), DHP (FFDE) and EXP (FFDF) segments, which
// no camera writes and no viewer needs, are refused: they are not removed, since a hierarchical
// JPEG needs them, and not kept, since nothing checks what they hold.

// Labels, in the browser filter's words (exif.js).
const (
	exifGPS   = "GPS location and camera details (EXIF)"
	exifPlain = "Camera details and date (EXIF)"
	xmpLabel  = "Author, editing history and other details (XMP)"
)

const iccSig = "ICC_PROFILE\x00"

// exifInfo reads, from a TIFF header and IFD0, whether a GPS IFD is there and the orientation.
func exifInfo(tiff []byte) (gps bool, orientation int) {
	orientation = 1
	if len(tiff) < 8 {
		return
	}
	var bo binary.ByteOrder
	switch {
	case tiff[0] == 0x49 && tiff[1] == 0x49:
		bo = binary.LittleEndian
	case tiff[0] == 0x4d && tiff[1] == 0x4d:
		bo = binary.BigEndian
	default:
		return
	}
	ifd := int64(bo.Uint32(tiff[4:]))
	if ifd+2 > int64(len(tiff)) {
		return
	}
	count := int64(bo.Uint16(tiff[ifd:]))
	for i := int64(0); i < count; i++ {
		e := ifd + 2 + i*12
		if e+12 > int64(len(tiff)) {
			break
		}
		tag := bo.Uint16(tiff[e:])
		if tag == 0x8825 {
			gps = true
		}
		if tag == 0x0112 && bo.Uint16(tiff[e+2:]) == 3 {
			if v := int(bo.Uint16(tiff[e+8:])); v >= 1 && v <= 8 {
				orientation = v
			}
		}
	}
	return
}

func exifLabel(tiff []byte) string {
	if gps, _ := exifInfo(tiff); gps {
		return exifGPS
	}
	return exifPlain
}

// orientationPayload is the APP1 payload holding only an orientation: "Exif\0\0" and a
// minimal big-endian TIFF (exif.js, orientationTIFF).
func orientationPayload(o int) [32]byte {
	return [32]byte{'E', 'x', 'i', 'f', 0, 0,
		0x4d, 0x4d, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08,
		0x00, 0x01,
		0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, byte(o), 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00}
}

func segment(sc *Scratch, marker byte, payload []byte) ([]byte, error) {
	n := len(payload) + 2
	if n > 0xffff {
		return nil, fail("a segment is too long")
	}
	seg, err := sc.alloc(n + 2)
	if err != nil {
		return nil, err
	}
	seg[0], seg[1], seg[2], seg[3] = 0xff, marker, byte(n>>8), byte(n)
	copy(seg[4:], payload)
	return seg, nil
}

func checkDQT(p []byte) error {
	i := 0
	for i < len(p) {
		pq := p[i] >> 4
		if pq > 1 || p[i]&15 > 3 {
			return fail("a quantisation table is damaged")
		}
		i += 1 + 64
		if pq == 1 {
			i += 64
		}
	}
	if i != len(p) || len(p) == 0 {
		return fail("a quantisation table is damaged")
	}
	return nil
}

func checkDHT(p []byte) error {
	i := 0
	for i < len(p) {
		if i+17 > len(p) || p[i]>>4 > 1 || p[i]&15 > 3 {
			return fail("a Huffman table is damaged")
		}
		n := 0
		for k := 1; k <= 16; k++ {
			n += int(p[i+k])
		}
		i += 17 + n
	}
	if i != len(p) || len(p) == 0 {
		return fail("a Huffman table is damaged")
	}
	return nil
}

// checkDAC checks arithmetic-coding conditioning (ITU T.81 B.2.4.3): pairs of a class and
// table byte (class 0 DC or 1 AC, table 0 to 3, each at most once) and a value: for DC, L <= U
// (low and high nibble); for AC, Kx from 1 to 63.
func checkDAC(p []byte) error {
	if len(p) == 0 || len(p)%2 != 0 || len(p) > 16 {
		return fail("an arithmetic-coding table is damaged")
	}
	seen := 0
	for i := 0; i < len(p); i += 2 {
		tc, tb, v := p[i]>>4, p[i]&15, p[i+1]
		bit := 1 << (int(tc)*4 + int(tb)&3)
		if tc > 1 || tb > 3 || seen&bit != 0 || tc == 0 && v&15 > v>>4 || tc == 1 && (v < 1 || v > 63) {
			return fail("an arithmetic-coding table is damaged")
		}
		seen |= bit
	}
	return nil
}

func isSOF(m byte) bool { return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc }

func checkKept(marker byte, p []byte) error {
	switch {
	case marker == 0xdb:
		return checkDQT(p)
	case marker == 0xc4:
		return checkDHT(p)
	case marker == 0xcc:
		return checkDAC(p)
	case marker == 0xc8 || marker == 0xde || marker == 0xdf:
		return fail(fmt.Sprintf("the picture needs a part sealdrop does not know (marker %X)", marker))
	case marker == 0xdd || marker == 0xdc:
		if len(p) != 2 {
			return fail("a segment has the wrong length")
		}
	case marker == 0xda:
		if len(p) < 6 || p[0] > 4 || len(p) != 4+2*int(p[0]) { // T.81 B.2.3: 1 to 4 components
			return fail("a scan header is damaged")
		}
	case isSOF(marker):
		// T.81 allows 255 components (4 when progressive); what cameras, phones and editors
		// write has 1, 3 or 4, and each more would be 3 bytes kept unchecked.
		if len(p) < 9 || p[5] > 4 || len(p) != 6+3*int(p[5]) {
			return fail("the frame header is damaged")
		}
	}
	return nil
}

func dropLabel(marker byte, p []byte) string {
	switch {
	case marker == 0xfe:
		return "Comment"
	case marker == 0xe1:
		if bytes.HasPrefix(p, []byte("Exif\x00")) {
			return exifLabel(p[min(6, len(p)):])
		}
		if bytes.HasPrefix(p, []byte("http://ns.adobe.com/")) {
			return xmpLabel
		}
		return "Other embedded details (APP1)"
	case marker == 0xe0:
		return "Small preview picture or other data (APP0)"
	case marker == 0xe2 && bytes.HasPrefix(p, []byte("MPF\x00")):
		return "Extra embedded pictures (MPF)"
	case marker == 0xed:
		return "Author, caption and place names (IPTC/Photoshop)"
	case marker >= 0xe0 && marker <= 0xef:
		return fmt.Sprintf("Other embedded details (APP%d)", marker-0xe0)
	}
	return fmt.Sprintf("Unknown embedded data (marker %X)", marker)
}

// scanEnd returns where entropy-coded data searched from j on ends: at the next FF that is not
// a stuffed FF 00, a restart marker or a fill byte.
func scanEnd(b []byte, j int) (int, error) {
	for {
		k := bytes.IndexByte(b[j:], 0xff)
		if k < 0 || j+k+1 >= len(b) {
			return 0, fail("the picture ends too early")
		}
		j += k
		m := b[j+1]
		switch {
		case m == 0x00 || m >= 0xd0 && m <= 0xd7:
			j += 2
		case m == 0xff:
			j++
		default:
			return j, nil
		}
	}
}

type iccChunk struct {
	seq, count byte
	data       []byte
}

func cleanJPEG(b []byte, p *plan, f *findings, sc *Scratch) error {
	if len(b) < 2 || b[0] != 0xff || b[1] != 0xd8 {
		return fail("this is not a JPEG picture")
	}
	p.add(b[0:2])
	afterSOI := p.anchor()
	i := 2
	orientation := 1
	orientationAt, iccAt := -1, -1
	var icc []iccChunk
	sawFrame, inScan, seenEOI := false, false, false
	minimalExif := func(q []byte) int {
		for o := 2; o <= 8; o++ {
			s := orientationPayload(o)
			if bytes.Equal(q, s[:]) {
				return o
			}
		}
		return 0
	}
	for i < len(b) {
		if inScan && b[i] != 0xff {
			j, err := scanEnd(b, i)
			if err != nil {
				return err
			}
			p.add(b[i:j])
			i = j
			continue
		}
		if b[i] != 0xff {
			return fail("unexpected bytes between segments")
		}
		if i+1 >= len(b) {
			return fail("the picture ends too early")
		}
		marker := b[i+1]
		if marker == 0xff {
			i++
			continue
		}
		if inScan && (marker == 0x00 || marker >= 0xd0 && marker <= 0xd7) {
			j, err := scanEnd(b, i+2)
			if err != nil {
				return err
			}
			p.add(b[i:j])
			i = j
			continue
		}
		if marker == 0xd9 {
			if !sawFrame {
				return fail("the picture has no frame")
			}
			p.add(b[i : i+2])
			i += 2
			seenEOI = true
			break
		}
		if marker == 0xd8 || marker == 0x00 || marker == 0x01 || marker >= 0xd0 && marker <= 0xd7 {
			return fail("a marker is out of place")
		}
		inScan = false
		if i+4 > len(b) {
			return fail("the picture ends too early")
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		if n < 2 || i+2+n > len(b) {
			return fail("a segment is cut short")
		}
		q := b[i+4 : i+2+n]
		next := i + 2 + n
		switch {
		case marker == 0xe0 && bytes.HasPrefix(q, []byte("JFIF\x00")):
			if len(q) < 14 {
				return fail("the JFIF header is damaged")
			}
			if len(q) > 14 || q[12] != 0 || q[13] != 0 {
				f.remove("Small preview picture (JFIF thumbnail)")
				seg, err := segment(sc, 0xe0, q[:14])
				if err != nil {
					return err
				}
				seg[4+12], seg[4+13] = 0, 0
				p.add(seg)
			} else {
				p.add(b[i:next])
			}
			if orientationAt < 0 {
				orientationAt = p.anchor()
			}
		case marker == 0xe2 && bytes.HasPrefix(q, []byte(iccSig)):
			if len(q) < 15 {
				return fail("a colour profile segment is damaged")
			}
			icc = append(icc, iccChunk{seq: q[12], count: q[13], data: q[14:]})
			if iccAt < 0 {
				iccAt = p.anchor()
			}
		case marker == 0xee && bytes.HasPrefix(q, []byte("Adobe")):
			if len(q) != 12 {
				return fail("the Adobe segment is damaged")
			}
			p.add(b[i:next])
		case marker >= 0xc0 && marker <= 0xdf:
			if err := checkKept(marker, q); err != nil {
				return err
			}
			if isSOF(marker) {
				if sawFrame {
					return fail("the picture has two frames")
				}
				sawFrame = true
			}
			if marker == 0xda && !sawFrame {
				return fail("a scan comes before the frame header")
			}
			p.add(b[i:next])
			if marker == 0xda {
				inScan = true
			}
		default:
			o := 1
			if marker == 0xe1 && bytes.HasPrefix(q, []byte("Exif\x00\x00")) {
				_, o = exifInfo(q[6:])
			}
			mine := 0
			if marker == 0xe1 {
				mine = minimalExif(q)
			}
			if mine == 0 {
				f.remove(dropLabel(marker, q))
			}
			if o != 1 {
				orientation = o
			}
			if mine != 0 {
				orientation = mine
			}
		}
		i = next
	}
	if !seenEOI {
		return fail("the picture ends too early")
	}
	if i < len(b) {
		f.remove("Hidden data after the end of the picture")
	}
	if len(icc) > 0 {
		sort.SliceStable(icc, func(x, y int) bool { return icc[x].seq < icc[y].seq })
		n := icc[0].count
		if len(icc) != int(n) {
			return fail("the colour profile is split wrongly")
		}
		total := 0
		for k, c := range icc {
			if int(c.seq) != k+1 || c.count != n {
				return fail("the colour profile is split wrongly")
			}
			total += len(c.data)
		}
		whole, err := sc.alloc(total)
		if err != nil {
			return err
		}
		o := 0
		for _, c := range icc {
			o += copy(whole[o:], c.data)
		}
		clean, err := cleanICC(whole, sc)
		if err != nil {
			return err
		}
		if !bytes.Equal(clean, whole) {
			f.remove(iccLabel)
		}
		const per = 65519 - 14
		count := (len(clean) + per - 1) / per
		if count > 255 {
			return fail("the colour profile is too large")
		}
		segs := make([][]byte, 0, count)
		for k := range count {
			part := clean[k*per : min(len(clean), (k+1)*per)]
			seg, err := sc.alloc(4 + 14 + len(part))
			if err != nil {
				return err
			}
			ln := 2 + 14 + len(part)
			seg[0], seg[1], seg[2], seg[3] = 0xff, 0xe2, byte(ln>>8), byte(ln)
			copy(seg[4:], iccSig)
			seg[4+12], seg[4+13] = byte(k+1), byte(count)
			copy(seg[18:], part)
			segs = append(segs, seg)
		}
		p.insert(iccAt, segs...)
		if orientationAt > iccAt {
			orientationAt += len(segs)
		}
	}
	if orientation != 1 {
		pl := orientationPayload(orientation)
		seg, err := segment(sc, 0xe1, pl[:])
		if err != nil {
			return err
		}
		at := afterSOI
		if orientationAt >= 0 {
			at = orientationAt
		}
		p.insert(at, seg)
	}
	return nil
}
