package web

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/sealdrop/sealdrop/internal/api"
)

// idHandler serves a route with an {id} element, given the id as it appears in the path.
type idHandler func(w http.ResponseWriter, r *http.Request, rawID string)

// byID serves h on a gorilla/mux route whose pattern names {id}.
func byID(h idHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { h(w, r, mux.Vars(r)["id"]) }
}

// notesRouter answers the note API's POST routes, the server's most frequent requests,
// without the router's walk over every route's regexp and without a copy of the request to
// carry the id. Everything else goes to the gorilla/mux router, and so does any other method
// on these paths (its 405). The router holds the same routes with the same handlers, so both
// paths answer alike: TestNotesRouterMatchesMux sends every path shape through both.
type notesRouter struct {
	cop     *http.CrossOriginProtection
	deny    http.Handler
	create  http.Handler         // already behind cop
	upload  http.Handler         // already behind cop
	actions map[string]idHandler // the routes below /api/v1/notes/{id}/, by name
	next    http.Handler
}

func (n *notesRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		p := r.URL.Path
		switch p {
		case api.Notes:
			n.create.ServeHTTP(w, r)
			return
		case api.NoteUpload:
			n.upload.ServeHTTP(w, r)
			return
		}
		// The router's {id} is one non-empty path element, as here.
		if rest, ok := strings.CutPrefix(p, api.Notes+"/"); ok {
			if id, action, ok := strings.Cut(rest, "/"); ok && id != "" {
				if h := n.actions[action]; h != nil {
					if n.cop.Check(r) != nil {
						n.deny.ServeHTTP(w, r)
						return
					}
					h(w, r, id)
					return
				}
			}
		}
	}
	n.next.ServeHTTP(w, r)
}
