package web

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/mux"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/room"
	"github.com/sealdrop/sealdrop/vault"
)

// Config configures the HTTP layer. The zero value of each field selects its documented
// default; New validates the whole Config.
type Config struct {
	// Vault holds the ciphertext. Required. The largest note that create accepts and limits
	// publishes (max_entry) is the vault's own MaxEntry.
	Vault *vault.Vault

	// MaxAppend is the largest body of one append request. Default 1 MiB. Browsers cannot
	// stream uploads, so this also bounds what a browser holds per request.
	MaxAppend int64

	// MaxTTL is the longest TTL a note may ask for. Default 7 days. It must not exceed the
	// vault's MaxTTL (the vault refuses longer ones anyway).
	MaxTTL time.Duration

	// DefaultTTL is published as default_ttl and used when create omits ttl. Default 7 days,
	// clamped to MaxTTL.
	DefaultTTL time.Duration

	// TTLChoices are the TTLs create accepts. Default 5 min, 1 h, 1 day, 7 days; choices over
	// MaxTTL are dropped, and DefaultTTL is always among them.
	TTLChoices []time.Duration

	// Now is the clock used for expires_in. It should be the vault's clock. Default time.Now.
	Now func() time.Time

	// Chat, when set, serves the one-time chat API and pages (chat_routes.go).
	Chat *chat.Server

	// Room, when set, serves the group room API (room_routes.go).
	Room *room.Server

	// Drops, when set, serves the drop-box API (drop_routes.go).
	Drops *drop.Server

	// Price is what new notes, chats and drop submissions pay once the server fills (price.go).
	// Default: the Chat's or the Drops' pricer when they have one, else a new one. Every one
	// of them must be the same, so that the token limits publishes pays for all three.
	Price *price.Pricer

	// FeaturedDrops are shown on the front page as "Contact …" links, in this order.
	FeaturedDrops []FeaturedDrop

	// Hosts, when set, is the allow-list of Host names (hosts.go); nil answers every name.
	Hosts *Hosts
	// SafestMaxBody, when not zero (and Drops is set), lets drops that opted in take messages
	// from browsers without JavaScript (safest.go): the largest form body in bytes. The server
	// locks about 5.5 times this much once, at New, as the one workspace those messages pass
	// through. Zero: no drop takes messages at Safest.
	SafestMaxBody int64

	// templates and static override the embedded file systems (tests only, see export_test.go).
	templates fs.FS
	static    fs.FS
	// extra adds routes inside the wrapper (tests only: a panicking route).
	extra map[string]http.HandlerFunc
	// muxOnly routes everything through gorilla/mux, without notesRouter (tests only: they
	// check that both answer alike).
	muxOnly bool
	// routed, when set, is given the finished router (tests only: a test that must send a
	// request to every route checks that none is left out).
	routed func(*mux.Router)
}

// Defaults for Config fields.
const (
	DefaultMaxAppend = 1 << 20
	DefaultMaxTTL    = 7 * 24 * time.Hour
)

// DefaultTTLChoices are the TTLs offered when Config.TTLChoices is empty.
var DefaultTTLChoices = []time.Duration{5 * time.Minute, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// ErrConfig reports an invalid Config.
var ErrConfig = errors.New("web: invalid config")

// withDefaults returns cfg with every zero field replaced by its default, or an error.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Vault == nil {
		return cfg, fmt.Errorf("%w: Vault is required", ErrConfig)
	}
	if cfg.MaxAppend == 0 {
		cfg.MaxAppend = DefaultMaxAppend
	}
	if cfg.MaxAppend <= 0 {
		return cfg, fmt.Errorf("%w: MaxAppend %d must be positive", ErrConfig, cfg.MaxAppend)
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.MaxTTL < time.Second || cfg.MaxTTL%time.Second != 0 {
		return cfg, fmt.Errorf("%w: MaxTTL %v must be a positive whole number of seconds", ErrConfig, cfg.MaxTTL)
	}
	if cfg.DefaultTTL == 0 {
		cfg.DefaultTTL = min(7*24*time.Hour, cfg.MaxTTL)
	}
	if cfg.DefaultTTL < time.Second || cfg.DefaultTTL > cfg.MaxTTL || cfg.DefaultTTL%time.Second != 0 {
		return cfg, fmt.Errorf("%w: DefaultTTL %v must be whole seconds in (0, MaxTTL]", ErrConfig, cfg.DefaultTTL)
	}
	choices := cfg.TTLChoices
	if len(choices) == 0 {
		choices = DefaultTTLChoices
	}
	var ttls []time.Duration
	for _, c := range choices {
		if c < time.Second || c%time.Second != 0 {
			return cfg, fmt.Errorf("%w: TTL choice %v must be a positive whole number of seconds", ErrConfig, c)
		}
		if c <= cfg.MaxTTL && !slices.Contains(ttls, c) {
			ttls = append(ttls, c)
		}
	}
	if !slices.Contains(ttls, cfg.DefaultTTL) {
		ttls = append(ttls, cfg.DefaultTTL)
	}
	slices.Sort(ttls)
	cfg.TTLChoices = ttls
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for _, p := range []*price.Pricer{chatPricer(cfg.Chat), dropPricer(cfg.Drops), roomPricer(cfg.Room)} {
		switch {
		case p == nil:
		case cfg.Price == nil:
			cfg.Price = p
		case cfg.Price != p:
			return cfg, fmt.Errorf("%w: Chat, Drops and Price must share one pricer", ErrConfig)
		}
	}
	if cfg.Price == nil {
		p, err := price.New(price.Config{Now: cfg.Now})
		if err != nil {
			return cfg, err
		}
		cfg.Price = p
	}
	return cfg, nil
}

func chatPricer(c *chat.Server) *price.Pricer {
	if c == nil {
		return nil
	}
	return c.Config().Price
}

func roomPricer(r *room.Server) *price.Pricer {
	if r == nil {
		return nil
	}
	return r.Config().Price
}

func dropPricer(d *drop.Server) *price.Pricer {
	if d == nil {
		return nil
	}
	return d.Config().Price
}
