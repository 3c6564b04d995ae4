package api_test

import (
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/static"
)

// The pages' JavaScript speaks API v1 too (static/js). These tests read its modules and fail
// when what they write differs from this package: an envelope size, a path, a header, an error
// code, a status a code is expected with, a control message.

// jsModules is every module's source by name.
func jsModules(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	names, err := fs.Glob(static.FS, "js/*.js")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	for _, n := range names {
		b, err := fs.ReadFile(static.FS, n)
		require.NoError(t, err)
		out[n] = string(b)
	}
	return out
}

// jsConst is the value of `const name = a [+ b ...]` in src (whole numbers only).
func jsConst(t *testing.T, src, name string) int64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^(?:export )?const ` + name + ` = ([0-9 +]+);`).FindStringSubmatch(src)
	require.NotNil(t, m, "const %s not found", name)
	var sum int64
	for _, p := range strings.Split(m[1], "+") {
		n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		require.NoError(t, err, "const %s = %s", name, m[1])
		sum += n
	}
	return sum
}

func TestJavaScriptEnvelopeConstants(t *testing.T) {
	js := jsModules(t)
	require.EqualValues(t, api.CipherChunk, jsConst(t, js["js/http.js"], "CIPHER_CHUNK"))
	require.EqualValues(t, api.EnvelopeHeader, jsConst(t, js["js/api.js"], "HEADER_BYTES"))
	require.EqualValues(t, api.SubmissionHead, jsConst(t, js["js/drop-api.js"], "SUBMISSION_HEAD"))
}

// goRoutes are the API's routes with each variable element written {}.
func goRoutes() map[string]bool {
	r := map[string]bool{api.Limits: true, api.Notes: true, api.NoteUpload: true, api.Chats: true}
	for _, a := range []string{api.NoteData, api.NoteCommit, api.NoteOpen, api.NoteConfirm, api.NoteStatus, api.NoteRevoke} {
		r[api.NotePath("{}", a)] = true
	}
	for _, a := range []string{api.ChatJoin, api.ChatSend, api.ChatPoll, api.ChatEnd, api.ChatRevoke, api.ChatWS} {
		r[api.ChatPath("{}", a)] = true
	}
	r[api.Rooms] = true
	for _, a := range []string{api.RoomJoin, api.RoomSend, api.RoomPoll, api.RoomLeave, api.RoomRevoke, api.RoomWS} {
		r[api.RoomPath("{}", a)] = true
	}
	for _, a := range []string{api.DropSubmissions, api.DropUpload, api.DropChallenge, api.DropList, api.DropWipe} {
		r[api.DropPath("{}", a)] = true
	}
	for _, a := range []string{api.SubmissionData, api.SubmissionCommit, api.SubmissionFetch, api.SubmissionAck} {
		r[api.SubmissionPath("{}", "{}", a)] = true
	}
	return r
}

var (
	// const base = `/api/v1/...`; or const note = (id) => `/api/v1/...`;
	jsPathConst = regexp.MustCompile("const (\\w+) = (?:\\([^)]*\\) => )?`(/api/v1[^`]*)`")
	jsPath      = regexp.MustCompile("[`'](/api/v1[^`']*)[`']")
	jsVar       = regexp.MustCompile(`\$\{[^}]*\}`)
)

// TestJavaScriptPaths: every API path a module writes is a route of the API, after the
// module's own path constants are put in.
func TestJavaScriptPaths(t *testing.T) {
	routes := goRoutes()
	used := 0
	for name, src := range jsModules(t) {
		for _, c := range jsPathConst.FindAllStringSubmatch(src, -1) {
			call := regexp.MustCompile(`\$\{` + c[1] + `(?:\([^)]*\))?\}`)
			src = call.ReplaceAllLiteralString(src, c[2])
		}
		src = jsPathConst.ReplaceAllString(src, "") // checked where it is used
		for _, m := range jsPath.FindAllStringSubmatch(src, -1) {
			p := jsVar.ReplaceAllString(m[1], "{}")
			require.True(t, routes[p], "%s writes the path %q, which API v1 does not have", name, m[1])
			used++
		}
	}
	require.Greater(t, used, 20, "the modules' paths were not found: has their form changed?")
}

// TestJavaScriptHeadersAndSubprotocol: the Sealdrop-* headers and the chat subprotocol the
// modules use are the API's.
func TestJavaScriptHeadersAndSubprotocol(t *testing.T) {
	headers := map[string]bool{api.HeaderManage: true, api.HeaderOffset: true, api.HeaderSize: true,
		api.HeaderSession: true, api.HeaderPeer: true, api.HeaderSeq: true, api.HeaderCommit: true,
		api.HeaderLength: true, api.HeaderTTL: true, api.HeaderGateHash: true, api.HeaderOpenHash: true,
		api.HeaderDestructHash: true, api.HeaderPriceToken: true, api.HeaderPriceNonce: true,
		api.HeaderDropAuth: true, api.HeaderDropFlags: true}
	re := regexp.MustCompile(`'(Sealdrop-[A-Za-z-]+)'`)
	seen := 0
	for name, src := range jsModules(t) {
		for _, m := range re.FindAllStringSubmatch(src, -1) {
			require.True(t, headers[m[1]], "%s uses the header %s, which API v1 does not have", name, m[1])
			seen++
		}
	}
	require.Greater(t, seen, 5)
	chat := jsModules(t)["js/chat.js"]
	require.Contains(t, chat, "['"+api.Subprotocol+"', `"+api.SubprotocolPrefix+"${")
}

// jsClientCodes are the codes the modules make up themselves, never sent by the server.
var jsClientCodes = map[string]bool{"network": true, "lost": true, "handshake": true, "epoch": true,
	"wait": true, // the room page's: a message waits while its member is out (room.js)
}

// TestJavaScriptErrorCodes: every error code a module tests for is one the API sends, and
// every status a module expects with a code is that refusal's status.
func TestJavaScriptErrorCodes(t *testing.T) {
	codes := map[string]bool{}
	byCode := map[string]map[int]bool{}
	for _, r := range api.Refusals {
		codes[r.Code] = true
		if byCode[r.Code] == nil {
			byCode[r.Code] = map[int]bool{}
		}
		byCode[r.Code][r.Status] = true
	}
	codes[api.CodeRefused] = true // the chat socket's
	compare := regexp.MustCompile(`\.(?:code|error) [!=]== '(\w+)'`)
	statusAndCode := regexp.MustCompile(`status === (\d{3}) && (?:\w+ && )?\w+\.(?:code|error) === '(\w+)'`)
	table := regexp.MustCompile(`\{ ((?:\d{3}: '\w+'(?:, )?)+) \}\[res\.status\]`)
	checked := map[string]bool{}
	for name, src := range jsModules(t) {
		for _, m := range compare.FindAllStringSubmatch(src, -1) {
			require.True(t, codes[m[1]] || jsClientCodes[m[1]], "%s tests for the code %q, which the API never sends", name, m[1])
			checked[m[1]] = true
		}
		var pairs [][2]string
		for _, m := range statusAndCode.FindAllStringSubmatch(src, -1) {
			pairs = append(pairs, [2]string{m[1], m[2]})
		}
		for _, m := range table.FindAllStringSubmatch(src, -1) {
			for _, kv := range strings.Split(m[1], ", ") {
				st, code, _ := strings.Cut(kv, ": ")
				pairs = append(pairs, [2]string{st, strings.Trim(code, "'")})
			}
		}
		for _, p := range pairs {
			st, _ := strconv.Atoi(p[0])
			require.True(t, byCode[p[1]][st], "%s expects %q with status %d; the API sends it with %v", name, p[1], st, byCode[p[1]])
			checked[p[0]+" "+p[1]] = true
		}
	}
	var got []string
	for k := range checked {
		got = append(got, k)
	}
	sort.Strings(got)
	// What the modules are known to test: if one of these goes, the patterns above missed it.
	for _, want := range []string{"gone", "busy", "wrong_pin", "price", "402 price", "409 busy", "507 full", "429 busy", "413 too_large"} {
		require.Contains(t, got, want)
	}
}

// TestJavaScriptControlMessages: the chat page reads and writes the control messages the
// socket has.
func TestJavaScriptControlMessages(t *testing.T) {
	kinds := map[string]bool{api.ControlAck: true, api.ControlEnd: true, api.ControlSent: true,
		api.ControlError: true, api.ControlPeer: true, api.ControlNoPeer: true}
	src := jsModules(t)["js/chat.js"]
	re := regexp.MustCompile(`(?:\.t === |\bt: )'(\w+)'`)
	seen := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		require.True(t, kinds[m[1]], "chat.js uses the control message %q, which the socket does not have", m[1])
		seen[m[1]] = true
	}
	require.Len(t, seen, len(kinds), "chat.js handles %v", seen)
}
