package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/net/proxy"

	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// dropServer wires the drop boxes to the vault: submissions live --drop-ttl (at most the
// vault's longest TTL), within the quotas vaultConfig gave KindSubmission, priced by p.
func dropServer(v *vault.Vault, f *serveFlags, p *price.Pricer) (*drop.Server, error) {
	return drop.New(drop.Config{Vault: v, TTL: f.dropTTL, Price: p})
}

// loadFeatured reads --featured-drops; a bad line stops the start with its number.
func loadFeatured(path string) ([]web.FeaturedDrop, error) {
	if path == "" {
		return nil, nil
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	list, err := drop.ParseFeatured(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]web.FeaturedDrop, len(list))
	for i, d := range list {
		out[i] = web.FeaturedDrop{Name: d.Name, Link: d.Link}
	}
	return out, nil
}

// httpClientFor returns an HTTP client for base: through the SOCKS5 proxy at socks (Tor's
// SocksPort) when given, directly only to a loopback address. An onion address without
// --socks is refused rather than leaked to the system resolver.
func httpClientFor(base, socks string) (*http.Client, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("not a URL: %q", base)
	}
	if socks == "" {
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, errors.New("only a loopback server is reached without --socks (use --socks 127.0.0.1:9050 for an onion address)")
		}
		return &http.Client{Timeout: 10 * time.Minute}, nil
	}
	d, err := proxy.SOCKS5("tcp", socks, nil, proxy.Direct)
	if err != nil {
		return nil, fmt.Errorf("--socks: %w", err)
	}
	cd, ok := d.(proxy.ContextDialer)
	if !ok {
		return nil, errors.New("--socks: the SOCKS dialer cannot take a context")
	}
	// The host name goes to tor unresolved: x/net/proxy passes names as they are.
	tr := &http.Transport{DialContext: cd.DialContext, Proxy: nil}
	return &http.Client{Transport: tr, Timeout: 30 * time.Minute}, nil
}

// originOf is scheme://host of a link.
func originOf(link string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(link))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", errors.New("the link must be a whole http:// URL")
	}
	return u.Scheme + "://" + u.Host, nil
}
