package api

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error codes: the "error" member of every error answer (and of a chat socket's error
// message). The status that goes with each is the Refusal's.
const (
	CodeGone           = "gone"
	CodeWrongPIN       = "wrong_pin"
	CodePrice          = "price"
	CodeOffset         = "offset"
	CodeFull           = "full"
	CodeTooLarge       = "too_large"
	CodeBusy           = "busy"
	CodeIncomplete     = "incomplete"
	CodeBadRequest     = "bad_request"
	CodeBadParameter   = "bad_parameter"
	CodeBadTTL         = "bad_ttl"
	CodeBody           = "body"
	CodeContentType    = "content_type"
	CodeLengthRequired = "length_required"
	CodeCrossOrigin    = "cross_origin"
	CodeMethod         = "method"
	CodeUnavailable    = "unavailable"
	CodeInternal       = "internal"
	CodeTor2web        = "tor2web"
	CodeRefused        = "refused" // only on the chat socket: a record refused for another reason
)

// A Refusal is one kind of error answer: its status and code. This is the one place where a
// refusal's status is written; the server answers with it and the clients recognise it by it.
// "busy" is three refusals: the server at its limit of work (503), an earlier append to the
// same entry still running (409), and too many at once from one side (429: the other side of
// a chat is behind on its records, or one circuit is over its create limit).
type Refusal struct {
	Status int
	Code   string
}

// The refusals of API v1.
var (
	Gone           = Refusal{http.StatusNotFound, CodeGone}
	WrongPIN       = Refusal{http.StatusForbidden, CodeWrongPIN}
	Unpaid         = Refusal{http.StatusPaymentRequired, CodePrice}
	Offset         = Refusal{http.StatusConflict, CodeOffset}
	Full           = Refusal{http.StatusInsufficientStorage, CodeFull}
	TooLarge       = Refusal{http.StatusRequestEntityTooLarge, CodeTooLarge}
	Busy           = Refusal{http.StatusServiceUnavailable, CodeBusy}
	AppendBusy     = Refusal{http.StatusConflict, CodeBusy}
	TooMany        = Refusal{http.StatusTooManyRequests, CodeBusy}
	Incomplete     = Refusal{http.StatusConflict, CodeIncomplete}
	BadRequest     = Refusal{http.StatusBadRequest, CodeBadRequest}
	BadParameter   = Refusal{http.StatusBadRequest, CodeBadParameter}
	BadTTL         = Refusal{http.StatusBadRequest, CodeBadTTL}
	BadBody        = Refusal{http.StatusBadRequest, CodeBody}
	ContentType    = Refusal{http.StatusUnsupportedMediaType, CodeContentType}
	LengthRequired = Refusal{http.StatusLengthRequired, CodeLengthRequired}
	CrossOrigin    = Refusal{http.StatusForbidden, CodeCrossOrigin}
	Method         = Refusal{http.StatusMethodNotAllowed, CodeMethod}
	Unavailable    = Refusal{http.StatusServiceUnavailable, CodeUnavailable}
	Internal       = Refusal{http.StatusInternalServerError, CodeInternal}
	// Tor2web: a request relayed by a Tor2web gateway (it says so in an X-Tor2web header),
	// which sees and can change everything: refused, for pages and API alike.
	Tor2web = Refusal{http.StatusForbidden, CodeTor2web}
)

// Refusals lists every refusal of the HTTP API (for the JavaScript's table and the tests).
var Refusals = []Refusal{Gone, WrongPIN, Unpaid, Offset, Full, TooLarge, Busy, AppendBusy, TooMany,
	Incomplete, BadRequest, BadParameter, BadTTL, BadBody, ContentType, LengthRequired, CrossOrigin,
	Method, Unavailable, Internal, Tor2web}

// ErrorAnswer is the body of an error answer: the code and a message for people. The gone
// answer has no message: it is {"error":"gone"} for every absent state, byte for byte.
type ErrorAnswer struct {
	Error   string `json:"error"`
	Message string `json:"message,omitempty"`
}

// Body is the answer r gives with message.
func (r Refusal) Body(message string) []byte {
	b, _ := json.Marshal(ErrorAnswer{r.Code, message})
	return b
}

// WrongPINAnswer is the 403 of a refused PIN: how many tries are left before the entry is
// wiped.
type WrongPINAnswer struct {
	Error     string `json:"error"` // CodeWrongPIN
	TriesLeft int    `json:"tries_left"`
}

// OffsetAnswer is the 409 of an append at another offset than the server holds: how many
// bytes it has, where the upload goes on from.
type OffsetAnswer struct {
	Error    string `json:"error"` // CodeOffset
	Received int64  `json:"received"`
}

// PriceAnswer is the 402 of a create that did not pay enough: the price now and the token to
// pay it with, so that the retry needs no other request.
type PriceAnswer struct {
	Error     string `json:"error"` // CodePrice
	Message   string `json:"message"`
	Bits      int    `json:"bits"`
	Token     string `json:"token"`
	ExpiresIn int64  `json:"expires_in"`
}

// Error is an error answer as a client reads it: the status, and every member any error
// answer may carry (absent ones are nil or empty).
type Error struct {
	Status    int
	Code      string
	Message   string
	TriesLeft *int   // wrong_pin
	Received  *int64 // offset
	Bits      *int   // price
	Token     string // price
}

// errorReply is the union of the error answers' members, for decoding.
type errorReply struct {
	Error     string `json:"error"`
	Message   string `json:"message"`
	TriesLeft *int   `json:"tries_left"`
	Received  *int64 `json:"received"`
	Bits      *int   `json:"bits"`
	Token     string `json:"token"`
}

// ReadError decodes an error answer of status with body; a body that is not the JSON of an
// error answer leaves the members empty.
func ReadError(status int, body []byte) *Error {
	var e errorReply
	_ = json.Unmarshal(body, &e)
	return &Error{Status: status, Code: e.Error, Message: e.Message, TriesLeft: e.TriesLeft,
		Received: e.Received, Bits: e.Bits, Token: e.Token}
}

// Matches reports whether e is the refusal r: its status and its code.
func (e *Error) Matches(r Refusal) bool { return e.Status == r.Status && e.Code == r.Code }

func (e *Error) Error() string {
	return fmt.Sprintf("api: server answered %d %s: %s", e.Status, e.Code, e.Message)
}
