// Package static holds the browser code and styles that sealdrop serves under /static/.
// Every file here is pinned by Subresource Integrity in the pages and its SHA-256 is listed
// in the README, so anyone can check what the server sends.
package static

import "embed"

// FS holds the served files. The patterns are explicit so that tests and fixtures kept
// beside them are never served: js/clean/ holds the media privacy filter's modules, i18n/ the
// catalogs of every text the pages and scripts show (read by the server too). vendor/
// holds code from elsewhere, unmodified, each with its licence and a note of where it came from
// (vendor/*/README.md); only the file the pages load is served.
//
//go:embed js/*.js js/clean/*.js i18n/*.js css/*.css vendor/qrcode-generator-2.0.4/qrcode.js
var FS embed.FS
