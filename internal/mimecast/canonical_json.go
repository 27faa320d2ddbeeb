package mimecast

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The canonical form of ContentHash is defined by encoding/json: decode with UseNumber into
// any, encode without HTML escaping (canonicalJSONByDecoding). That round trip allocates a map
// per object and a value per field and sorts through reflection: it was a third of the CPU of
// a drain of id-less records. canonicalizer writes the same bytes in one pass over input that
// json.Valid accepted, decoding and re-encoding strings by encoding/json's rules, so that ids
// stay what they were (checkpoints hold them). FuzzCanonicalJSONMatchesDecoding holds the two
// to the same output.

// canonicalJSON returns raw's canonical JSON, or raw itself when it is not one JSON value.
func canonicalJSON(raw []byte) []byte {
	if !json.Valid(raw) {
		// Not one value: the decoding path decides (it canonicalises a value followed by
		// garbage, and keeps two values as they are).
		return canonicalJSONByDecoding(raw)
	}
	return canonicalValidJSON(raw)
}

// canonicalValidJSON is canonicalJSON for raw that json.Valid accepted (or json.Unmarshal
// decoded without error).
func canonicalValidJSON(raw []byte) []byte {
	c := canonicalizers.Get().(*canonicalizer)
	defer canonicalizers.Put(c)
	c.src, c.pos = raw, 0
	out, ok := c.value(make([]byte, 0, len(raw)), 0)
	c.src = nil
	if !ok {
		return canonicalJSONByDecoding(raw)
	}
	return out
}

// canonicalJSONByDecoding is the definition of the canonical form.
func canonicalJSONByDecoding(raw []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw
	}
	if _, err := dec.Token(); err == nil {
		return raw // trailing data: not one JSON value
	}
	if out := encodeCanonical(v); out != nil {
		return out
	}
	return raw
}

func encodeCanonical(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

var canonicalizers = sync.Pool{New: func() any { return &canonicalizer{} }}

// canonicalizer walks JSON that json.Valid accepted. Per nesting depth it keeps the members of
// the object being read, with their canonical values in a buffer of that depth, so that a
// record costs no allocation once the pool is warm (except for keys with escapes).
type canonicalizer struct {
	src     []byte
	pos     int
	levels  []objectLevel
	scratch []byte // a decoded string value
}

type objectLevel struct {
	members []member
	vals    []byte
}

type member struct {
	key        []byte // the decoded key, what encoding/json sorts by
	encodedKey []byte // the key as the canonical form writes it, quotes included
	val        [2]int // the canonical value in the level's vals
}

// maxCanonicalDepth bounds the recursion; json.Valid already limits nesting to 10000, deeper
// records take the decoding path.
const maxCanonicalDepth = 512

func (c *canonicalizer) skipSpace() {
	for c.pos < len(c.src) {
		switch c.src[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

// value appends the canonical form of the value at c.pos to dst. ok is false when the value
// needs the decoding path (only for nesting beyond maxCanonicalDepth).
func (c *canonicalizer) value(dst []byte, depth int) ([]byte, bool) {
	c.skipSpace()
	switch c.src[c.pos] {
	case '{':
		return c.object(dst, depth)
	case '[':
		return c.array(dst, depth)
	case '"':
		token := c.strToken()
		if isPlainString(token) {
			return append(dst, token...), true
		}
		c.scratch = appendUnquoted(c.scratch[:0], token)
		return appendQuoted(dst, c.scratch), true
	case 't':
		c.pos += len("true")
		return append(dst, "true"...), true
	case 'f':
		c.pos += len("false")
		return append(dst, "false"...), true
	case 'n':
		c.pos += len("null")
		return append(dst, "null"...), true
	default:
		// A number, kept as written (json.Number).
		start := c.pos
		for c.pos < len(c.src) && isNumberByte(c.src[c.pos]) {
			c.pos++
		}
		return append(dst, c.src[start:c.pos]...), true
	}
}

func isNumberByte(b byte) bool {
	return (b >= '0' && b <= '9') || b == '-' || b == '+' || b == '.' || b == 'e' || b == 'E'
}

func (c *canonicalizer) array(dst []byte, depth int) ([]byte, bool) {
	if depth >= maxCanonicalDepth {
		return dst, false
	}
	c.pos++ // [
	dst = append(dst, '[')
	c.skipSpace()
	if c.src[c.pos] == ']' {
		c.pos++
		return append(dst, ']'), true
	}
	for {
		var ok bool
		if dst, ok = c.value(dst, depth+1); !ok {
			return dst, false
		}
		c.skipSpace()
		if c.src[c.pos] == ']' {
			c.pos++
			return append(dst, ']'), true
		}
		c.pos++ // ,
		dst = append(dst, ',')
	}
}

func (c *canonicalizer) object(dst []byte, depth int) ([]byte, bool) {
	if depth >= maxCanonicalDepth {
		return dst, false
	}
	for len(c.levels) <= depth {
		c.levels = append(c.levels, objectLevel{})
	}
	lv := &c.levels[depth]
	lv.members, lv.vals = lv.members[:0], lv.vals[:0]
	c.pos++ // {
	c.skipSpace()
	if c.src[c.pos] == '}' {
		c.pos++
		return append(dst, "{}"...), true
	}
	for {
		c.skipSpace()
		token := c.strToken()
		key, encKey := token[1:len(token)-1], token
		if !isPlainString(token) {
			// Rare (keys are ASCII names): these outlive the next string, so they get their own.
			key = appendUnquoted(nil, token)
			encKey = appendQuoted(nil, key)
		}
		c.skipSpace()
		c.pos++ // :
		start := len(c.levels[depth].vals)
		// Nested objects use deeper levels; c.levels may grow, so lv is taken again after.
		vals, ok := c.value(c.levels[depth].vals, depth+1)
		if !ok {
			return dst, false
		}
		lv = &c.levels[depth]
		lv.vals = vals
		lv.members = append(lv.members, member{key: key, encodedKey: encKey, val: [2]int{start, len(vals)}})
		c.skipSpace()
		if c.src[c.pos] == '}' {
			c.pos++
			break
		}
		c.pos++ // ,
	}
	// Keys in byte order, as encoding/json sorts a map's; of a repeated key the last one counts,
	// as decoding into a map keeps it.
	slices.SortStableFunc(lv.members, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	dst = append(dst, '{')
	first := true
	for i, m := range lv.members {
		if i+1 < len(lv.members) && bytes.Equal(m.key, lv.members[i+1].key) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, m.encodedKey...)
		dst = append(dst, ':')
		dst = append(dst, lv.vals[m.val[0]:m.val[1]]...)
	}
	return append(dst, '}'), true
}

// strToken returns the string token at c.pos, quotes included, and moves past it.
func (c *canonicalizer) strToken() []byte {
	start := c.pos
	c.pos++ // opening quote
	for c.src[c.pos] != '"' {
		if c.src[c.pos] == '\\' {
			c.pos++
		}
		c.pos++
	}
	c.pos++ // closing quote
	return c.src[start:c.pos]
}

// isPlainString: printable ASCII without escapes decodes to itself and encodes as written.
func isPlainString(token []byte) bool {
	for _, b := range token[1 : len(token)-1] {
		if b < 0x20 || b > 0x7e || b == '\\' {
			return false
		}
	}
	return true
}

// appendUnquoted appends the decoded text of a valid string token, as encoding/json decodes it:
// invalid UTF-8 and unpaired surrogates become U+FFFD.
func appendUnquoted(dst, token []byte) []byte {
	s := token[1 : len(token)-1]
	for i := 0; i < len(s); {
		b := s[i]
		switch {
		case b == '\\':
			esc := s[i+1]
			i += 2
			switch esc {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(s[i:])
				i += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2 = hex4(s[i+2:])
					}
					if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
						r = dec
						i += 6
					} else {
						r = unicode.ReplacementChar
					}
				}
				dst = utf8.AppendRune(dst, r)
			default: // " \ /
				dst = append(dst, esc)
			}
		case b < utf8.RuneSelf:
			dst = append(dst, b)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

// hex4 reads four hex digits (a valid \u escape has them).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendQuoted appends s as encoding/json writes a string without HTML escaping: the control
// characters, quote and backslash escaped, U+2028 and U+2029 as \u escapes, invalid UTF-8 as
// \ufffd, everything else as is.
func appendQuoted(dst, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
