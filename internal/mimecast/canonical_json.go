package mimecast

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"
)

// The canonical form of ContentHash is defined by encoding/json: decode with UseNumber into
// any, encode without HTML escaping (canonicalJSONByDecoding). That round trip allocates a map
// per object and a value per field and sorts through reflection: it was a third of the CPU of
// a drain of id-less records. canonicalizer writes the same bytes in one pass over input that
// json.Valid accepted, using encoding/json itself only for strings it does not copy verbatim,
// so that ids stay what they were (checkpoints hold them). FuzzCanonicalJSONMatchesDecoding
// holds the two to the same output.

// canonicalJSON returns raw's canonical JSON, or raw itself when it is not one JSON value.
func canonicalJSON(raw []byte) []byte {
	if !json.Valid(raw) {
		// Not one value: the decoding path decides (it canonicalises a value followed by
		// garbage, and keeps two values as they are).
		return canonicalJSONByDecoding(raw)
	}
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
// record costs no allocation once the pool is warm (except for strings with escapes).
type canonicalizer struct {
	src    []byte
	pos    int
	levels []objectLevel
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
		_, enc, ok := c.str()
		return append(dst, enc...), ok
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
		key, encKey, ok := c.str()
		if !ok {
			return dst, false
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

// str reads the string at c.pos and returns its decoded bytes and its canonical encoding. A
// string of printable ASCII without escapes is both as written; any other goes through
// encoding/json both ways, which is what the definition does with it.
func (c *canonicalizer) str() (decoded, encoded []byte, ok bool) {
	start := c.pos
	c.pos++ // opening quote
	plain := true
	for {
		b := c.src[c.pos]
		if b == '"' {
			break
		}
		if b == '\\' {
			plain = false
			c.pos += 2
			continue
		}
		if b < 0x20 || b > 0x7e {
			plain = false
		}
		c.pos++
	}
	c.pos++ // closing quote
	token := c.src[start:c.pos]
	if plain {
		return token[1 : len(token)-1], token, true
	}
	var s string
	if err := json.Unmarshal(token, &s); err != nil {
		return nil, nil, false
	}
	enc := encodeCanonical(s)
	if enc == nil {
		return nil, nil, false
	}
	return []byte(s), enc, true
}
