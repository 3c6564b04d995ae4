// Package templates holds sealdrop's HTML pages. They carry no inline script, style or event
// handler: the Content-Security-Policy forbids them.
package templates

import "embed"

// FS holds the page templates, parsed once at start by the web package.
//
//go:embed *.html
var FS embed.FS
