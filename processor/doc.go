// Package processor holds the mimecast_enrich processor.
package processor
