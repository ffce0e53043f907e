package main

import "embed"

// templateFS holds the app's own pages, parsed into a copy of the reset
// pages' templates (pages.DefaultTemplates) so that they share its frame
// and style. They are executed with a *view.
//
//go:embed templates/*.html
var templateFS embed.FS
