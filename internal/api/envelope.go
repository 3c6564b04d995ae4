package api

import "github.com/sealdrop/sealdrop/internal/protocol"

// The envelope layout a download resumes on (SECURITY.md, "Envelope"): a resumed open starts
// at 0, after the envelope header, or on a sealed chunk's boundary; a resumed fetch of a drop
// submission the same, after the submission's ephemeral key.
const (
	EnvelopeHeader = protocol.HeaderSize                      // 25
	CipherChunk    = protocol.ChunkSize + protocol.TagSize    // 65,552: a sealed chunk
	SubmissionHead = protocol.DropPublicSize + EnvelopeHeader // 90: ephemeral key and header

	// MinNote is the smallest length a note's create or upload accepts: the envelope header
	// and one sealed chunk of one byte (SECURITY.md, "Create note"). A shorter note could not
	// be decrypted by any reader, so it is refused as bad_parameter before anything is stored.
	MinNote = EnvelopeHeader + 1 + protocol.TagSize // 42
)

// NoteAligned reports whether a note's download may resume at off.
func NoteAligned(off int64) bool { return aligned(off, EnvelopeHeader) }

// SubmissionAligned reports whether a submission's fetch may resume at off.
func SubmissionAligned(off int64) bool { return aligned(off, SubmissionHead) }

func aligned(off, head int64) bool {
	return off == 0 || (off >= head && (off-head)%CipherChunk == 0)
}
