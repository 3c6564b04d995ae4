package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/vault"
)

// refusalOf is the one mapping of the vault's, the chats' and the drops' errors to the API's
// refusals (whose statuses internal/api holds). A price refusal is priceError's: its answers
// carry more than a message. ok is false for an error that is none of these.
func refusalOf(err error) (r api.Refusal, ok bool) {
	var ended *chat.EndedError
	switch {
	case errors.Is(err, vault.ErrOffset):
		return api.Offset, true
	case errors.Is(err, vault.ErrBusy):
		return api.AppendBusy, true // an earlier append to the entry still runs
	case errors.Is(err, chat.ErrBusy):
		return api.TooMany, true // the other side has not taken the earlier records
	case errors.Is(err, drop.ErrBusy):
		return api.Busy, true
	case errors.Is(err, vault.ErrIncomplete):
		return api.Incomplete, true
	case errors.Is(err, vault.ErrTooLarge), errors.Is(err, drop.ErrTooLarge), errors.Is(err, chat.ErrTooLarge):
		return api.TooLarge, true
	case errors.Is(err, vault.ErrGone), errors.Is(err, drop.ErrGone), errors.Is(err, chat.ErrGone), errors.As(err, &ended):
		return api.Gone, true
	case errors.Is(err, vault.ErrInvalid), errors.Is(err, drop.ErrInvalid):
		return api.BadParameter, true
	case errors.Is(err, vault.ErrFull), errors.Is(err, drop.ErrFull), errors.Is(err, chat.ErrFull):
		return api.Full, true
	}
	return api.Refusal{}, false
}

// words are the refusals one route gives for errors, each with the message it says there.
type words map[api.Refusal]string

// pick is the refusal a route answers err with: its own refusal when the route gives it,
// otherwise the route's fallback.
func pick(err error, ws words, fallback api.Refusal) api.Refusal {
	if r, ok := refusalOf(err); ok {
		if _, given := ws[r]; given {
			return r
		}
	}
	return fallback
}

// refuseErr answers err as the route's words say (fallback for any other error).
func (s *server) refuseErr(w http.ResponseWriter, err error, ws words, fallback api.Refusal) {
	r := pick(err, ws, fallback)
	s.refuse(w, r, ws[r])
}

// wrongPIN is the 403 of a refused PIN.
func (s *server) wrongPIN(w http.ResponseWriter, left int) {
	s.marshal(w, api.WrongPIN.Status, api.WrongPINAnswer{Error: api.WrongPIN.Code, TriesLeft: left})
}

// lengthWords is what a note's create or upload says of a length below api.MinNote.
var lengthWords = "length is missing or below " + strconv.Itoa(api.MinNote) + ", the smallest envelope (header and one sealed byte)"

// What each route says of the errors it refuses with.
var (
	noteCreateWords = words{
		api.Full:         "the server has no room for this note now; try later or send less",
		api.TooLarge:     "length is over max_entry",
		api.BadParameter: "the vault refused these parameters",
		api.Unavailable:  "the server cannot take notes now",
	}
	appendWords = words{
		api.Offset:       "",
		api.AppendBusy:   "another append to this note is still running; retry shortly",
		api.TooLarge:     "the body goes beyond the declared length",
		api.Gone:         "",
		api.BadParameter: "the vault refused this append",
		api.Full:         "the server has no room now",
		api.BadBody:      "the body ended before its declared length",
	}
	noteCommitWords = words{
		api.Incomplete: "the upload is not complete",
		api.AppendBusy: "an append to this note is still running; retry shortly",
	}
	submissionCommitWords = words{
		api.Incomplete: "the upload is not complete",
		api.AppendBusy: "an append to this submission is still running; retry shortly",
	}
	dropWords = words{
		api.Full:         "this drop or the server has no room now; nothing was stored; try later or send less",
		api.TooLarge:     "length is over max_entry",
		api.Busy:         "the server is busy; retry shortly",
		api.BadParameter: "a parameter is missing or malformed",
		api.Gone:         "",
		api.Unavailable:  "the server cannot take this now",
	}
	chatCreateWords = words{
		api.Full:       "the server cannot take another chat right now",
		api.BadRequest: "the chat could not be created",
	}
	chatSendWords = words{
		api.Gone:       "",
		api.Full:       "the server is full: the message was not sent",
		api.TooMany:    "the other side has not received the earlier messages yet",
		api.TooLarge:   "the record is too large",
		api.BadRequest: "the record was refused",
	}
)
