package clean

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/adler32"
	"hash/crc32"
	"io"
	"sync"
)

// PNG: a port of static/js/clean/png.js. Kept unchanged: IHDR, PLTE, IDAT, IEND, tRNS, the
// colour chunks (gAMA, cHRM, sRGB, sBIT, cICP, mDCv, cLLi), bKGD, hIST and the animation chunks
// (acTL, fcTL, fdAT); each chunk's CRC is checked, and each kept chunk must have exactly the
// length its specification gives (pngShape), else the file is refused: a kept chunk is sent
// as it is, so extra bytes in it would be details passed on. The image data (every IDAT,
// together) must be one zlib stream that ends where the data ends and unpacks to no more than
// the picture needs (checkImageData), and so must each APNG frame's (its fdAT chunks). The iCCP profile is inflated, rebuilt
// (icc.go) and packed again: where the browser deflates it, this packs it in stored (not
// compressed) deflate blocks, so the bytes differ and the profile does not (the shared vectors
// compare PNGs with every iCCP inflated). Everything else is removed.

var pngKeep = map[string]bool{"IHDR": true, "PLTE": true, "IDAT": true, "IEND": true, "tRNS": true, "gAMA": true,
	"cHRM": true, "sRGB": true, "sBIT": true, "cICP": true, "mDCv": true, "cLLi": true, "bKGD": true, "hIST": true,
	"acTL": true, "fcTL": true, "fdAT": true}

var pngLabels = map[string]string{
	"tEXt": "Text details such as author, software or comments (tEXt)",
	"zTXt": "Text details such as author, software or comments (zTXt)",
	"iTXt": "Text details such as author, software or comments (iTXt/XMP)",
	"tIME": "Date the picture was last changed (tIME)",
	"pHYs": "Resolution set by the scanner, camera or software (pHYs)",
	"caBX": "Content credentials (C2PA: signer, edit history, earlier versions)",
	"sPLT": "Suggested palette with its name (sPLT)",
}

// maxProfile is the most an iCCP profile may unpack to (as the browser filter).
const maxProfile = 16 << 20

const iccName = "ICC profile"

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// ihdr is what the chunk checks need of the picture header.
type ihdr struct {
	width, height     uint64
	depth, colourType byte
	interlaced        bool
	palette           int // entries of the PLTE chunk, once seen
}

// channels per colour type (0 grey, 2 RGB, 3 palette, 4 grey and alpha, 6 RGBA), with the bit
// depths each allows.
var pngColour = map[byte]struct {
	channels uint64
	depths   string
}{0: {1, "\x01\x02\x04\x08\x10"}, 2: {3, "\x08\x10"}, 3: {1, "\x01\x02\x04\x08"}, 4: {2, "\x08\x10"}, 6: {4, "\x08\x10"}}

func readIHDR(d []byte) (*ihdr, error) {
	if len(d) != 13 {
		return nil, fail("the IHDR chunk is damaged (wrong length)")
	}
	h := &ihdr{width: uint64(binary.BigEndian.Uint32(d)), height: uint64(binary.BigEndian.Uint32(d[4:])), depth: d[8], colourType: d[9], interlaced: d[12] == 1}
	c, ok := pngColour[h.colourType]
	if !ok || bytes.IndexByte([]byte(c.depths), h.depth) < 0 || h.width == 0 || h.height == 0 ||
		h.width > 0x7fffffff || h.height > 0x7fffffff || d[10] != 0 || d[11] != 0 || d[12] > 1 {
		return nil, fail("the picture header is damaged")
	}
	return h, nil
}

// maxImageData is the most the image data may unpack to here (1 GiB): a larger picture is
// refused rather than unpacked.
const maxImageData = 1 << 30

// rawSize is how many bytes the image data unpacks to (filter bytes included), Adam7 passes
// summed; more than maxImageData gives maxImageData+1.
func (h *ihdr) rawSize() uint64 {
	bits := pngColour[h.colourType].channels * uint64(h.depth)
	rows := func(w, n uint64) uint64 {
		if w == 0 || n == 0 {
			return 0
		}
		r := 1 + (w*bits+7)/8 // w < 2^31, bits <= 64
		if n > (maxImageData+1)/r {
			return maxImageData + 1
		}
		return n * r
	}
	if !h.interlaced {
		return min(rows(h.width, h.height), maxImageData+1)
	}
	var total uint64
	for _, a := range [7][4]uint64{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}} {
		if h.width > a[0] && h.height > a[1] {
			total += rows((h.width-a[0]+a[2]-1)/a[2], (h.height-a[1]+a[3]-1)/a[3])
		}
	}
	return min(total, maxImageData+1)
}

// pngShape reports whether a kept chunk's length is the one its specification (PNG 3rd
// edition, APNG) gives for this picture: PLTE only in colour pictures and once, tRNS never with
// an alpha channel, hIST only after PLTE.
func pngShape(typ string, n int, h *ihdr) bool {
	ct := h.colourType
	switch typ {
	case "IEND":
		return n == 0
	case "sRGB":
		return n == 1
	case "gAMA", "cICP":
		return n == 4
	case "cHRM":
		return n == 32
	case "mDCv":
		return n == 24
	case "cLLi", "acTL":
		return n == 8
	case "fcTL":
		return n == 26
	case "fdAT":
		return n >= 4
	case "IDAT":
		return true
	case "PLTE":
		return n >= 3 && n <= 768 && n%3 == 0 && h.palette == 0 && ct != 0 && ct != 4
	case "tRNS":
		switch ct {
		case 3:
			return n >= 1 && n <= 256
		case 0:
			return n == 2
		case 2:
			return n == 6
		}
		return false
	case "bKGD":
		switch ct {
		case 3:
			return n == 1
		case 0, 4:
			return n == 2
		}
		return n == 6
	case "sBIT":
		return n == [7]int{1, 0, 3, 3, 2, 0, 4}[ct]
	case "hIST":
		return h.palette > 0 && n == 2*h.palette
	}
	return false
}

func cleanPNG(b []byte, p *plan, f *findings, sc *Scratch) error {
	p.add(b[:8])
	i := 8
	first := true
	var h *ihdr
	var idat [][]byte
	var frames []*frame // APNG frames after the first: each fcTL's fdAT data, one zlib stream
	for {
		if i+12 > len(b) {
			return fail("the picture ends too early")
		}
		n := binary.BigEndian.Uint32(b[i:])
		if n > 0x7fffffff || uint64(i)+12+uint64(n) > uint64(len(b)) {
			return fail("a chunk is cut short")
		}
		end := i + 12 + int(n)
		typ := b[i+4 : i+8]
		if !isAlpha(typ[0]) || !isAlpha(typ[1]) || !isAlpha(typ[2]) || !isAlpha(typ[3]) {
			return fail("a chunk has a damaged name")
		}
		ts := string(typ)
		if crc32.ChecksumIEEE(b[i+4:i+8+int(n)]) != binary.BigEndian.Uint32(b[i+8+int(n):]) {
			return fail("the " + ts + " chunk is damaged (wrong checksum)")
		}
		if first && ts != "IHDR" {
			return fail("the picture header is missing")
		}
		data := b[i+8 : i+8+int(n)]
		if first {
			var err error
			if h, err = readIHDR(data); err != nil {
				return err
			}
		} else if ts == "IHDR" {
			return fail("the picture has two headers")
		} else if pngKeep[ts] && !pngShape(ts, len(data), h) {
			return fail("the " + ts + " chunk is damaged (wrong length)")
		}
		first = false
		switch {
		case pngKeep[ts]:
			p.add(b[i:end])
			switch ts {
			case "PLTE":
				h.palette = len(data) / 3
			case "IDAT":
				idat = append(idat, data)
			case "fcTL":
				fh := *h
				fh.width, fh.height = uint64(binary.BigEndian.Uint32(data[4:])), uint64(binary.BigEndian.Uint32(data[8:]))
				frames = append(frames, &frame{raw: fh.rawSize()})
			case "fdAT":
				if len(frames) == 0 {
					return fail("the picture data is damaged")
				}
				fr := frames[len(frames)-1]
				fr.data = append(fr.data, data[4:])
			}
		case ts == "iCCP":
			z := bytes.IndexByte(data, 0)
			if z < 1 || z > 79 || z+1 >= len(data) || data[z+1] != 0 {
				return fail("the colour profile chunk is damaged")
			}
			profile, err := inflateInto(data[z+2:], sc)
			if err != nil {
				return err
			}
			clean, err := cleanICC(profile, sc)
			if err != nil {
				return err
			}
			if !bytes.Equal(clean, profile) || !bytes.Equal(data[:z], []byte(iccName)) {
				f.remove(iccLabel)
				chunk, err := iccpChunk(clean, sc)
				if err != nil {
					return err
				}
				p.add(chunk)
			} else {
				p.add(b[i:end])
			}
		case ts == "eXIf":
			f.remove(exifLabel(data))
		case b[i+4]&0x20 == 0:
			return fail("the picture needs a part sealdrop does not know (" + ts + ")")
		default:
			if l, ok := pngLabels[ts]; ok {
				f.remove(l)
			} else {
				f.remove("Other embedded details (" + ts + ")")
			}
		}
		i = end
		if ts == "IEND" {
			break
		}
	}
	if err := checkImageData(idat, h.rawSize(), sc); err != nil {
		return err
	}
	for _, fr := range frames {
		if len(fr.data) > 0 {
			if err := checkImageData(fr.data, fr.raw, sc); err != nil {
				return err
			}
		}
	}
	if i < len(b) {
		f.remove("Hidden data after the end of the picture")
	}
	return nil
}

// frame is an APNG frame's image data (fdAT chunks after an fcTL) and what it unpacks to.
type frame struct {
	raw  uint64
	data [][]byte
}

// checkImageData inflates the image data (the IDAT chunks' data, one zlib stream) into sc's
// free space, which it does not take, a piece at a time: the stream must be whole, unpack to at
// most raw bytes and end exactly where the data ends (bytes after its end would be sent as
// they are). The inflater's window is wiped afterwards (wipeInflater).
func checkImageData(idat [][]byte, raw uint64, sc *Scratch) error {
	if len(idat) == 0 {
		return fail("the picture has no picture data")
	}
	if raw > maxImageData {
		return fail("the picture is too large to check here")
	}
	room := sc.rest()
	if len(room) == 0 {
		return ErrScratch
	}
	room = room[:min(len(room), 64<<10)]
	defer clear(room)
	src := &pieces{p: idat}
	zr, err := zlib.NewReader(src)
	if err != nil {
		return fail("the picture data is damaged")
	}
	defer wipeInflater(zr)
	var total uint64
	for {
		k, err := zr.Read(room)
		total += uint64(k)
		if total > raw {
			return fail("the picture data is longer than the picture")
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail("the picture data is damaged")
		}
	}
	if src.left() != 0 {
		return fail("the picture data is damaged")
	}
	return nil
}

// pieces reads a list of slices as one stream, a byte at a time if asked (an io.ByteReader,
// so that compress/flate neither buffers the data on the heap nor reads past the stream's end).
type pieces struct{ p [][]byte }

func (r *pieces) ReadByte() (byte, error) {
	for len(r.p) > 0 && len(r.p[0]) == 0 {
		r.p = r.p[1:]
	}
	if len(r.p) == 0 {
		return 0, io.EOF
	}
	c := r.p[0][0]
	r.p[0] = r.p[0][1:]
	return c, nil
}

func (r *pieces) Read(b []byte) (int, error) {
	for len(r.p) > 0 && len(r.p[0]) == 0 {
		r.p = r.p[1:]
	}
	if len(r.p) == 0 {
		return 0, io.EOF
	}
	n := copy(b, r.p[0])
	r.p[0] = r.p[0][n:]
	return n, nil
}

func (r *pieces) left() int {
	n := 0
	for _, q := range r.p {
		n += len(q)
	}
	return n
}

// storedLen is the zlib stream of n bytes in stored deflate blocks: header, 5 bytes per block
// of at most 65535, Adler-32.
func storedLen(n int) int {
	blocks := max(1, (n+65534)/65535)
	return 2 + 5*blocks + n + 4
}

// iccpChunk writes the iCCP chunk of profile into sc: "ICC profile", two zero bytes, and the
// profile as a zlib stream of stored blocks (written in place; compress/zlib's writer would
// copy the profile into its heap window).
func iccpChunk(profile []byte, sc *Scratch) ([]byte, error) {
	dl := len(iccName) + 2 + storedLen(len(profile))
	out, err := sc.alloc(12 + dl)
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(out, uint32(dl))
	copy(out[4:], "iCCP")
	o := 8 + copy(out[8:], iccName) + 2
	out[o], out[o+1] = 0x78, 0x01
	o += 2
	rest := profile
	for {
		k := min(len(rest), 65535)
		final := byte(0)
		if k == len(rest) {
			final = 1
		}
		out[o] = final
		binary.LittleEndian.PutUint16(out[o+1:], uint16(k))
		binary.LittleEndian.PutUint16(out[o+3:], ^uint16(k))
		o += 5
		o += copy(out[o:], rest[:k])
		rest = rest[k:]
		if final == 1 {
			break
		}
	}
	binary.BigEndian.PutUint32(out[o:], adler32.Checksum(profile))
	o += 4
	binary.BigEndian.PutUint32(out[o:], crc32.ChecksumIEEE(out[4:o]))
	return out, nil
}

// zeroStream is a zlib stream of 64 KiB of zeros: inflating it overwrites every byte of an
// inflater's 32 KiB window.
var zeroStream = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	_, _ = w.Write(make([]byte, 64<<10))
	_ = w.Close()
	return b.Bytes()
})

// inflateInto unpacks the zlib stream z into sc's free space (at most maxProfile bytes), then
// wipes the inflater's window (wipeInflater) so that no part of the profile stays on the heap.
func inflateInto(z []byte, sc *Scratch) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fail("a compressed part is damaged")
	}
	defer wipeInflater(zr)
	room := sc.rest()
	limit := min(len(room), maxProfile)
	n, err := io.ReadFull(zr, room[:limit])
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		// Ended within the room: good, if the stream's checksum holds.
	case err != nil:
		return nil, fail("a compressed part is damaged")
	default:
		var one [1]byte
		if k, _ := zr.Read(one[:]); k != 0 {
			clear(one[:])
			if limit == maxProfile {
				return nil, fail("a compressed part unpacks to more than sealdrop checks")
			}
			return nil, ErrScratch
		}
	}
	// A stream cut short or with a wrong checksum fails here (io.ReadFull hides which).
	var one [1]byte
	if _, err := zr.Read(one[:]); err != io.EOF {
		return nil, fail("a compressed part is damaged")
	}
	return sc.take(n), nil
}

// wipeInflater overwrites the window of zr with zeros by inflating zeroStream through it: a
// Reset keeps the window's array (compress/flate's dictDecoder reuses hist), and 64 KiB of
// output passes through every byte of it.
func wipeInflater(zr io.ReadCloser) {
	if r, ok := zr.(zlib.Resetter); ok && r.Reset(bytes.NewReader(zeroStream()), nil) == nil {
		_, _ = io.Copy(io.Discard, zr)
	}
	_ = zr.Close()
}
