package mimecast

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzNDJSON feeds arbitrary bytes to the SIEM file reader, as they are and gzip-compressed.
// Properties: no panic; it ends; nothing it returns exceeds the line limit (memory stays bounded
// whatever the input); every record has a 64-character ID; and compressed input yields exactly
// the records of the plain input. Seeds: testdata/fuzz/FuzzNDJSON.
func FuzzNDJSON(f *testing.F) {
	f.Add([]byte(threeSIEMLines), uint16(4096))
	f.Add([]byte("{\"a\":1}\r\n\n{\"b\":"), uint16(8))
	f.Fuzz(func(t *testing.T, data []byte, limitSeed uint16) {
		limit := 16 + int(limitSeed)%4096
		plain := readFuzzRecords(t, data, limit)
		if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			return // the plain reading already took it for gzip
		}
		packed := readFuzzRecords(t, gzipped(t, string(data)), limit)
		if len(plain) != len(packed) {
			t.Fatalf("plain input gave %d records, gzipped %d", len(plain), len(packed))
		}
		for i := range plain {
			if !bytes.Equal(plain[i], packed[i]) {
				t.Fatalf("record %d differs: %q vs %q", i, plain[i], packed[i])
			}
		}
	})
}

func readFuzzRecords(t *testing.T, data []byte, limit int) [][]byte {
	r := NewSIEMFileReader(io.NopCloser(bytes.NewReader(data)), limit)
	defer r.Close()
	var raws [][]byte
	// Every record takes at least one byte of (decompressed) input, except a final corruption
	// record; deflate expands at most about 1032 times.
	bound := 1032 * (len(data) + 2)
	for range bound {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return raws
		}
		if err != nil {
			t.Fatalf("in-memory input cannot fail to transfer: %v", err)
		}
		if len(ev.Raw) > limit+2 {
			t.Fatalf("record of %d bytes exceeds the limit %d", len(ev.Raw), limit)
		}
		if ev.Err == nil && bytes.ContainsAny(ev.Raw, "\n") {
			t.Fatalf("a decoded record spans lines: %q", ev.Raw)
		}
		if id := ev.ID(); len(id) != 64 {
			t.Fatalf("ID %q is not a SHA-256 hex", id)
		}
		raws = append(raws, ev.Raw)
	}
	t.Fatalf("reader did not end after %d records", bound)
	return nil
}
