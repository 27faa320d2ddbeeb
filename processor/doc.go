// Package processor registers the mimecast_enrich processor. Import it for its side effect; the
// processor itself lives in internal/enrich.
package processor
