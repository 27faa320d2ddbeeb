package mimecastfake

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// Page tokens of the archive, directory and SIEM endpoints are opaque to clients: base64 of a
// kind letter and a few integers. They carry everything needed to resume, so the fake keeps no
// per-crawl state and a token stays valid across restarts of the same seeded tenant.

// packInts encodes kind and vals as an opaque token.
func packInts(kind byte, vals ...int) string {
	b := make([]byte, 0, 8+8*len(vals))
	b = append(b, kind)
	for _, v := range vals {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// unpackInts decodes a token of packInts with exactly n values.
func unpackInts(kind byte, tok string, n int) ([]int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 1 || b[0] != kind {
		return nil, false
	}
	parts := strings.Split(string(b[1:]), ":")
	if len(parts) != n+1 || parts[0] != "" {
		return nil, false
	}
	out := make([]int, n)
	for i, p := range parts[1:] {
		v, err := strconv.Atoi(p)
		if err != nil {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}
