package mimecastfake

import (
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The threat feeds render their records by appending JSON to a byte slice instead of building
// maps for encoding/json: the fake shares a machine with the client it feeds in benchmarks,
// and reflection over a map per record (sorting its keys every time) was most of its cost.
// The output is byte for byte what encoding/json wrote for the maps it replaces: members in
// sorted key order, HTML-safe string escaping (feed_golden_test.go pins this).

// jsonOut appends one JSON document. Keys are written as given: callers list an object's
// members in the order encoding/json would (sorted, as it does for maps), and use keys that
// need no escaping.
type jsonOut struct{ b []byte }

// sep writes the comma before a member or element unless it is the first of its container.
func (o *jsonOut) sep() {
	if n := len(o.b); n > 0 {
		if c := o.b[n-1]; c != '{' && c != '[' && c != ':' {
			o.b = append(o.b, ',')
		}
	}
}

func (o *jsonOut) key(k string) {
	o.sep()
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *jsonOut) beginObject()        { o.sep(); o.b = append(o.b, '{') }
func (o *jsonOut) endObject()          { o.b = append(o.b, '}') }
func (o *jsonOut) beginArray()         { o.sep(); o.b = append(o.b, '[') }
func (o *jsonOut) endArray()           { o.b = append(o.b, ']') }
func (o *jsonOut) object(k string)     { o.key(k); o.b = append(o.b, '{') }
func (o *jsonOut) array(k string)      { o.key(k); o.b = append(o.b, '[') }
func (o *jsonOut) str(k, v string)     { o.key(k); o.b = appendJSONString(o.b, v) }
func (o *jsonOut) elemStr(v string)    { o.sep(); o.b = appendJSONString(o.b, v) }
func (o *jsonOut) num(k string, v int) { o.key(k); o.b = strconv.AppendInt(o.b, int64(v), 10) }
func (o *jsonOut) num64(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}
func (o *jsonOut) boolean(k string, v bool) { o.key(k); o.b = strconv.AppendBool(o.b, v) }
func (o *jsonOut) null(k string)            { o.key(k); o.b = append(o.b, "null"...) }

// strNum writes the string tmpl with its one %d replaced by v, as fmt.Sprintf(tmpl, v) would.
func (o *jsonOut) strNum(k, tmpl string, v uint64) {
	o.key(k)
	pre, post, _ := strings.Cut(tmpl, "%d")
	o.b = append(o.b, '"')
	o.b = appendJSONStringBody(o.b, pre)
	o.b = strconv.AppendUint(o.b, v, 10)
	o.b = appendJSONStringBody(o.b, post)
	o.b = append(o.b, '"')
}

// time writes t (in UTC) in layout; layouts hold nothing JSON would escape.
func (o *jsonOut) time(k string, t time.Time, layout string) {
	o.key(k)
	o.b = append(o.b, '"')
	o.b = t.UTC().AppendFormat(o.b, layout)
	o.b = append(o.b, '"')
}

// hex16 writes prefix followed by each of vs as 16 lower-case hex digits (%016x).
func (o *jsonOut) hex16(k, prefix string, vs ...uint64) {
	o.key(k)
	o.b = append(o.b, '"')
	o.b = append(o.b, prefix...)
	for _, v := range vs {
		o.b = appendHex16(o.b, v)
	}
	o.b = append(o.b, '"')
}

// strs writes a list of strings (never null: the maps held non-nil slices).
func (o *jsonOut) strs(k string, v []string) {
	o.array(k)
	for _, s := range v {
		o.elemStr(s)
	}
	o.endArray()
}

// appendJSONString appends s as encoding/json writes a string with HTML escaping on (its
// default): <, > and & as \u00XX, control characters escaped, invalid UTF-8 as \ufffd and
// U+2028/U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONStringBody(b, s)
	return append(b, '"')
}

// appendJSONStringBody is appendJSONString without the quotes, to build a string in parts.
func appendJSONStringBody(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafeASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// jsonSafeASCII marks the ASCII bytes encoding/json writes as they are (with HTML escaping).
var jsonSafeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// pageBufs recycles page buffers: a 500-record page is a few hundred KB, which would otherwise
// be allocated and grown afresh for every page served.
var pageBufs = sync.Pool{New: func() any { return &jsonOut{b: make([]byte, 0, 64<<10)} }}

func getJSONOut() *jsonOut {
	o := pageBufs.Get().(*jsonOut)
	o.b = o.b[:0]
	return o
}

// putJSONOut returns o to the pool unless it grew unusually large (a one-off huge page should
// not pin its memory for the life of the process).
func putJSONOut(o *jsonOut) {
	if cap(o.b) <= 4<<20 {
		pageBufs.Put(o)
	}
}
