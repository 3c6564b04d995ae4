package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

const inboxUsage = `usage: sealdrop inbox list|fetch|reply|wipe [flags]

Reads a drop's inbox without the server's JavaScript: the keys stay in this process, every
action proves the inbox key by challenge-response over Tor (--socks), and each submission is
read once and then wiped on the server.

  sealdrop inbox list  --link FILE --socks 127.0.0.1:9050
  sealdrop inbox fetch --link FILE --socks 127.0.0.1:9050 --out DIR [--id ID]
  sealdrop inbox reply --box FILE  --socks 127.0.0.1:9050 --message FILE
  sealdrop inbox wipe  --link FILE --socks 127.0.0.1:9050 --yes

The inbox link is a secret: keep it in a file only you can read (mode 0600); it is read from
--link and never accepted as a flag value or environment variable. fetch prints each text,
saves each file under --out as <id>-<name>, and, when the source asked for a reply, saves the
reply box as <id>.reply (pass it to "inbox reply --box"). Reaching a server directly (no
--socks) is allowed only for a loopback address.

Flags:
`

// readSecretFile reads one link from a file, warning when others may read it.
func readSecretFile(path string, stderr io.Writer) (string, error) {
	if path == "" {
		return "", errors.New("name the file holding the link")
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if st.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "warning: %s may be read by other users (chmod 600 it)\n", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	defer clear(b)
	link := strings.TrimSpace(string(b))
	if link == "" || strings.ContainsAny(link, " \n\t") {
		return "", fmt.Errorf("%s must hold exactly one link", path)
	}
	return link, nil
}

func inbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, inboxUsage+"  each action's own: sealdrop inbox list -h (fetch, reply, wipe alike)\n")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return nil
		}
		return errors.New("inbox: name an action: list, fetch, reply or wipe")
	}
	action := args[0]
	fs := newFlagSet("inbox "+action, inboxUsage, stderr)
	linkFile := fs.String("link", "", "the `FILE` holding the inbox link (list, fetch, wipe)")
	boxFile := fs.String("box", "", "reply: the `FILE` holding the reply box (saved by fetch as <id>.reply)")
	socks := fs.String("socks", "", "Tor's SOCKS `ADDR`, e.g. 127.0.0.1:9050; without it only a loopback server is reached")
	out := fs.String("out", "", "fetch: the `DIR` to save files and reply boxes in (created 0700)")
	id := fs.String("id", "", "fetch: only this submission `ID` (default: every one listed)")
	message := fs.String("message", "", "reply: the `FILE` with the reply text (- for standard input)")
	yes := fs.Bool("yes", false, "wipe: really wipe every submission of the drop")
	if done, err := parse(fs, args[1:]); done || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("inbox: unexpected argument %q", fs.Arg(0))
	}
	switch action {
	case "list", "fetch", "wipe":
		link, err := readSecretFile(*linkFile, stderr)
		if err != nil {
			return fmt.Errorf("inbox: --link: %w", err)
		}
		c, err := clientFor(link, *socks)
		if err != nil {
			return fmt.Errorf("inbox: %w", err)
		}
		ib, err := c.OpenInbox(link)
		if err != nil {
			return fmt.Errorf("inbox: %w", err)
		}
		defer ib.Close()
		switch action {
		case "list":
			return inboxList(ctx, ib, stdout)
		case "fetch":
			return inboxFetch(ctx, ib, *out, *id, stdout)
		default:
			if !*yes {
				return errors.New("inbox wipe: add --yes to wipe every submission of this drop")
			}
			n, err := ib.WipeAll(ctx)
			if err != nil {
				return fmt.Errorf("inbox wipe: %w", err)
			}
			fmt.Fprintf(stdout, "wiped %d submissions\n", n)
			return nil
		}
	case "reply":
		box, err := readSecretFile(*boxFile, stderr)
		if err != nil {
			return fmt.Errorf("inbox reply: --box: %w", err)
		}
		text, err := readMessage(*message)
		if err != nil {
			return fmt.Errorf("inbox reply: --message: %w", err)
		}
		c, err := clientFor(box, *socks)
		if err != nil {
			return fmt.Errorf("inbox reply: %w", err)
		}
		d, err := c.ParseDropLink(box)
		if err != nil {
			return fmt.Errorf("inbox reply: %w", err)
		}
		if err := c.Reply(ctx, d, text, nil); err != nil {
			if errors.Is(err, client.ErrGone) {
				return errors.New("inbox reply: this reply box is gone (already answered, or expired)")
			}
			return fmt.Errorf("inbox reply: %w", err)
		}
		fmt.Fprintln(stdout, "reply sent; the reply box now takes nothing more")
		return nil
	}
	fmt.Fprint(stderr, inboxUsage)
	return fmt.Errorf("inbox: unknown action %q", action)
}

func clientFor(link, socks string) (*client.Client, error) {
	origin, err := originOf(link)
	if err != nil {
		return nil, err
	}
	hc, err := httpClientFor(origin, socks)
	if err != nil {
		return nil, err
	}
	return client.New(origin, hc)
}

func readMessage(path string) (string, error) {
	var b []byte
	var err error
	switch path {
	case "":
		return "", errors.New("name the file with the reply text, or - for standard input")
	case "-":
		b, err = io.ReadAll(io.LimitReader(os.Stdin, protocol.MaxManifest))
	default:
		b, err = os.ReadFile(path)
	}
	return string(b), err
}

func inboxList(ctx context.Context, ib *client.Inbox, stdout io.Writer) error {
	l, err := ib.ListAll(ctx)
	if err != nil {
		return fmt.Errorf("inbox list: %w", err)
	}
	fmt.Fprintf(stdout, "%d waiting\n", len(l.Pending))
	for _, p := range l.Pending {
		fmt.Fprintf(stdout, "%s  %4dh old  up to %d bytes\n", p.ID, int64(p.Age.Hours()), p.Size)
	}
	writeVisits(stdout, l)
	return nil
}

// writeVisits prints the visit log: the theft signal nobody but a server restart can clear.
func writeVisits(w io.Writer, l *client.Listing) {
	fmt.Fprintln(w, "\nVisits to this inbox (UTC days, the last one is now) and messages read after each:")
	for _, v := range l.Visits {
		fmt.Fprintf(w, "  %s  %d read\n", v.Day, v.Fetched)
	}
	fmt.Fprintln(w, "If a day is listed on which you did not open this inbox, or more messages were read")
	fmt.Fprintln(w, "after a visit than you read, someone else has your inbox link: move to a new drop.")
	fmt.Fprintf(w, "(since the server started: %d lists, %d read; the log keeps the last %d days with a visit)\n",
		l.ListsTotal, l.FetchedTotal, drop.MaxVisits)
}

// safeName keeps a sender-chosen file name to one harmless path element.
func safeName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '/' || r == 0 {
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(name, ".")
	if name == "" {
		name = "file"
	}
	if len(name) > 100 {
		name = name[:100]
	}
	return name
}

func inboxFetch(ctx context.Context, ib *client.Inbox, out, only string, stdout io.Writer) error {
	if out == "" {
		return errors.New("inbox fetch: --out DIR is required (files and reply boxes are saved there)")
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return fmt.Errorf("inbox fetch: %w", err)
	}
	ids := []string{only}
	if only == "" {
		l, err := ib.ListAll(ctx)
		if err != nil {
			return fmt.Errorf("inbox fetch: %w", err)
		}
		ids = ids[:0]
		for _, p := range l.Pending {
			ids = append(ids, p.ID)
		}
	}
	for _, id := range ids {
		rec, err := ib.Fetch(ctx, id)
		if err != nil {
			if errors.Is(err, client.ErrGone) {
				return fmt.Errorf("inbox fetch: %s is gone (read already, expired or wiped)", id)
			}
			return fmt.Errorf("inbox fetch: %s: %w", id, err)
		}
		fmt.Fprintf(stdout, "=== %s\n%s\n", id, rec.Text)
		for _, f := range rec.Files {
			p := filepath.Join(out, id+"-"+safeName(f.Name))
			if err := writeNew(p, f.Data); err != nil {
				return fmt.Errorf("inbox fetch: %w", err)
			}
			fmt.Fprintf(stdout, "saved %s (%d bytes, type %q as the sender says)\n", p, len(f.Data), f.Type)
			clear(f.Data)
		}
		if rec.ReplyBox != nil {
			p := filepath.Join(out, id+".reply")
			link := ib.ReplyLink(rec.ReplyBox)
			if err := writeNew(p, []byte(link+"\n")); err != nil {
				return fmt.Errorf("inbox fetch: %w", err)
			}
			fmt.Fprintf(stdout, "the source asked for a reply: sealdrop inbox reply --box %s --message FILE\n", p)
		}
	}
	return nil
}

// writeNew creates path with mode 0600, refusing to replace anything.
func writeNew(path string, b []byte) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(fh, bytes.NewReader(b)); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}
