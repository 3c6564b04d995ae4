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
// (acTL, fcTL, fdAT); each chunk's CRC is checked. The iCCP profile is inflated, rebuilt
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

func cleanPNG(b []byte, p *plan, f *findings, sc *Scratch) error {
	p.add(b[:8])
	i := 8
	first := true
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
		first = false
		data := b[i+8 : i+8+int(n)]
		switch {
		case pngKeep[ts]:
			p.add(b[i:end])
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
	if i < len(b) {
		f.remove("Hidden data after the end of the picture")
	}
	return nil
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
