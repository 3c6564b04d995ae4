package browsertest

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// Level is a Tor Browser security level.
type Level int

// The three levels of Tor Browser's security settings.
const (
	Standard Level = iota
	Safer
	Safest
)

func (l Level) String() string {
	switch l {
	case Standard:
		return "standard"
	case Safer:
		return "safer"
	case Safest:
		return "safest"
	}
	return "level" + strconv.Itoa(int(l))
}

// Levels lists every level, in order.
var Levels = []Level{Standard, Safer, Safest}

// securityLevelPrefs are tor-browser's toolkit/components/securitylevel/SecurityLevel.sys.mjs
// values. NoScript's part of the levels cannot be reproduced in plain Firefox: at Safest no
// site runs scripts, which javascript.enabled=false emulates; at Safer an onion site counts as
// secure and keeps its scripts, which is plain Firefox's behaviour.
func securityLevelPrefs(l Level) map[string]any {
	std := l == Standard
	p := map[string]any{
		"javascript.options.ion":                  std,
		"javascript.options.baselinejit":          std,
		"javascript.options.native_regexp":        std,
		"javascript.options.asmjs":                std,
		"javascript.options.wasm":                 std,
		"mathml.disabled":                         !std,
		"gfx.font_rendering.graphite.enabled":     std,
		"gfx.font_rendering.opentype_svg.enabled": std,
		"svg.disabled":                            l == Safest,
	}
	if l == Safest {
		p["javascript.enabled"] = false
	}
	return p
}

// torBrowserPrefs are the Tor Browser defaults that change what a page can do.
var torBrowserPrefs = map[string]any{
	// Without it an http .onion page is not a secure context and has no crypto.subtle.
	"dom.securecontext.allowlist_onions":         true,
	"privacy.resistFingerprinting":               true,
	"privacy.firstparty.isolate":                 true,
	"dom.security.https_only_mode":               true,
	"dom.security.https_only_mode.upgrade_onion": false,
	"network.http.http3.enable":                  false,
	"dom.serviceWorkers.enabled":                 false,
	"media.peerconnection.enabled":               false,
}

// quietPrefs switch off everything that makes Firefox call home. The network namespace is the
// real guarantee; these keep the proxy log free of noise so a test can assert on it.
var quietPrefs = map[string]any{
	"network.dns.disabled":                                        true,
	"network.trr.mode":                                            5,
	"network.prefetch-next":                                       false,
	"network.dns.disablePrefetch":                                 true,
	"network.predictor.enabled":                                   false,
	"network.http.speculative-parallel-limit":                     0,
	"network.captive-portal-service.enabled":                      false,
	"captivedetect.canonicalURL":                                  "",
	"network.connectivity-service.enabled":                        false,
	"app.normandy.enabled":                                        false,
	"app.normandy.api_url":                                        "",
	"app.shield.optoutstudies.enabled":                            false,
	"messaging-system.rsexperimentloader.enabled":                 false,
	"app.update.auto":                                             false,
	"app.update.disabledForTesting":                               true,
	"app.update.url":                                              "",
	"toolkit.telemetry.enabled":                                   false,
	"toolkit.telemetry.unified":                                   false,
	"toolkit.telemetry.archive.enabled":                           false,
	"toolkit.telemetry.server":                                    "",
	"toolkit.coverage.endpoint.base":                              "",
	"datareporting.policy.dataSubmissionEnabled":                  false,
	"datareporting.healthreport.uploadEnabled":                    false,
	"browser.ping-centre.telemetry":                               false,
	"dom.push.enabled":                                            false,
	"dom.push.serverURL":                                          "",
	"extensions.blocklist.enabled":                                false,
	"extensions.systemAddon.update.enabled":                       false,
	"extensions.systemAddon.update.url":                           "",
	"extensions.update.enabled":                                   false,
	"extensions.getAddons.cache.enabled":                          false,
	"extensions.getAddons.discovery.api_url":                      "",
	"services.settings.server":                                    "data:,#remote-settings-dummy/v1",
	"security.OCSP.enabled":                                       0,
	"security.remote_settings.crlite_filters.enabled":             false,
	"security.remote_settings.intermediates.enabled":              false,
	"browser.safebrowsing.malware.enabled":                        false,
	"browser.safebrowsing.phishing.enabled":                       false,
	"browser.safebrowsing.downloads.enabled":                      false,
	"browser.safebrowsing.blockedURIs.enabled":                    false,
	"browser.safebrowsing.provider.google.updateURL":              "",
	"browser.safebrowsing.provider.google.gethashURL":             "",
	"browser.safebrowsing.provider.google4.updateURL":             "",
	"browser.safebrowsing.provider.google4.gethashURL":            "",
	"browser.safebrowsing.provider.mozilla.updateURL":             "",
	"browser.safebrowsing.provider.mozilla.gethashURL":            "",
	"geo.enabled":                                                 false,
	"geo.provider.network.url":                                    "",
	"browser.region.network.url":                                  "",
	"browser.region.update.enabled":                               false,
	"browser.search.update":                                       false,
	"browser.search.geoip.url":                                    "",
	"browser.topsites.contile.enabled":                            false,
	"browser.newtabpage.enabled":                                  false,
	"browser.newtab.preload":                                      false,
	"browser.newtabpage.activity-stream.feeds.system.topstories":  false,
	"browser.newtabpage.activity-stream.feeds.section.topstories": false,
	"browser.newtabpage.activity-stream.telemetry":                false,
	"browser.aboutwelcome.enabled":                                false,
	"browser.shell.checkDefaultBrowser":                           false,
	"browser.startup.homepage_override.mstone":                    "ignore",
	"browser.startup.page":                                        0,
	"browser.startup.homepage":                                    "about:blank",
	"browser.uitour.enabled":                                      false,
	"browser.discovery.enabled":                                   false,
	"media.gmp-manager.url":                                       "",
	"media.gmp-manager.updateEnabled":                             false,
	// Widevine's updater asks update.googleapis.com even with the other updates off.
	"media.gmp-manager.chromium-update-url":                 "",
	"media.gmp-widevinecdm.allow-chromium-update":           false,
	"media.gmp-widevinecdm.visible":                         false,
	"media.gmp-provider.enabled":                            false,
	"browser.translations.enable":                           false,
	"browser.translations.automaticallyPopup":               false,
	"extensions.pocket.enabled":                             false,
	"browser.urlbar.suggest.quicksuggest.sponsored":         false,
	"browser.urlbar.suggest.quicksuggest.nonsponsored":      false,
	"browser.smartwindow.enabled":                           false,
	"browser.backup.enabled":                                false,
	"browser.backup.scheduled.enabled":                      false,
	"media.gmp-gmpopenh264.enabled":                         false,
	"media.gmp-widevinecdm.enabled":                         false,
	"media.eme.enabled":                                     false,
	"network.cookie.sameSite.laxByDefault":                  true,
	"identity.fxaccounts.enabled":                           false,
	"browser.contentanalysis.enabled":                       false,
	"browser.ml.enable":                                     false,
	"extensions.formautofill.addresses.enabled":             false,
	"signon.rememberSignons":                                false,
	"browser.download.useDownloadDir":                       true,
	"browser.download.always_ask_before_handling_new_types": false,
	"browser.sessionstore.resume_from_crash":                false,
	"toolkit.startup.max_resumed_crashes":                   -1,
	"browser.tabs.warnOnClose":                              false,
	"browser.warnOnQuit":                                    false,
}

// proxyPrefs send every request, localhost included, to the fake onion proxy.
func proxyPrefs(addr string) (map[string]any, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("browsertest: proxy address %q: %w", addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("browsertest: proxy port %q: %w", port, err)
	}
	return map[string]any{
		"network.proxy.type":                      1,
		"network.proxy.http":                      host,
		"network.proxy.http_port":                 n,
		"network.proxy.ssl":                       host,
		"network.proxy.ssl_port":                  n,
		"network.proxy.share_proxy_settings":      true,
		"network.proxy.no_proxies_on":             "",
		"network.proxy.allow_hijacking_localhost": true,
		"network.proxy.socks_remote_dns":          true,
		"network.dns.blockDotOnion":               false,
	}, nil
}

// Prefs returns the complete preference set for a level: security level, Tor Browser defaults,
// call-home features off, the proxy (when proxyAddr is set), then extra, in that order of
// precedence.
func Prefs(l Level, proxyAddr string, extra map[string]any) (map[string]any, error) {
	out := map[string]any{}
	for _, m := range []map[string]any{quietPrefs, torBrowserPrefs, securityLevelPrefs(l)} {
		for k, v := range m {
			out[k] = v
		}
	}
	if proxyAddr != "" {
		pp, err := proxyPrefs(proxyAddr)
		if err != nil {
			return nil, err
		}
		for k, v := range pp {
			out[k] = v
		}
	}
	for k, v := range extra {
		out[k] = v
	}
	return out, nil
}

// userJS renders prefs as a user.js file, sorted so that profiles are reproducible.
func userJS(prefs map[string]any) (string, error) {
	keys := make([]string, 0, len(prefs))
	for k := range prefs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		switch prefs[k].(type) {
		case bool, string, int:
		default:
			return "", fmt.Errorf("browsertest: pref %s: unsupported type %T", k, prefs[k])
		}
		kj, _ := json.Marshal(k)
		vj, err := json.Marshal(prefs[k])
		if err != nil {
			return "", fmt.Errorf("browsertest: pref %s: %w", k, err)
		}
		fmt.Fprintf(&b, "user_pref(%s, %s);\n", kj, vj)
	}
	return b.String(), nil
}
