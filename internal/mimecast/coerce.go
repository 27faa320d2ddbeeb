package mimecast

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Mimecast writes the same field as a string in one endpoint and a number or boolean in another
// ("numberAttachments":"0", "delivered":"true", "pageSize":"100"), and sometimes one object where
// the docs show a list. Records are decoded with encoding/json first; only when that reports a
// type mismatch is the record re-decoded after coerce has bent each value towards the Go field's
// type. A value that cannot be bent (a "N/A" where a number is expected) is dropped, leaving the
// field zero: the raw record still carries it. Types with their own UnmarshalJSON (Time, Address)
// decide for themselves.

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
)

// decodeTolerant decodes the JSON object raw into v (a pointer to a struct).
func decodeTolerant(raw []byte, v any) error {
	if len(raw) == 0 || raw[0] != '{' {
		return errNotObject
	}
	err := json.Unmarshal(raw, v)
	var typeErr *json.UnmarshalTypeError
	if err == nil || !errors.As(err, &typeErr) {
		if err != nil {
			return fmt.Errorf("decoding record: %w", err)
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return fmt.Errorf("decoding record: %w", err)
	}
	target := reflect.ValueOf(v).Elem()
	coerced, _ := coerce(generic, target.Type())
	fixed, err := json.Marshal(coerced)
	if err != nil {
		return fmt.Errorf("decoding record: %w", err)
	}
	target.SetZero()
	if err := json.Unmarshal(fixed, v); err != nil {
		return fmt.Errorf("decoding record: %w", err)
	}
	return nil
}

// coerce returns value bent towards t, and false when it should be dropped instead.
func coerce(value any, t reflect.Type) (any, bool) {
	if value == nil {
		return nil, true
	}
	if t == rawMessageType || t.Kind() == reflect.Interface ||
		t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return value, true
	}
	switch t.Kind() {
	case reflect.Pointer:
		return coerce(value, t.Elem())
	case reflect.String:
		return coerceString(value), true
	case reflect.Bool:
		return coerceBool(value)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return coerceNumber(value, t, true)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return coerceNumber(value, t, false)
	case reflect.Float32, reflect.Float64:
		return coerceFloat(value)
	case reflect.Struct:
		m, ok := value.(map[string]any)
		if !ok {
			return nil, false
		}
		return coerceStruct(m, t), true
	case reflect.Map:
		m, ok := value.(map[string]any)
		if !ok || t.Key().Kind() != reflect.String {
			return nil, false
		}
		for k, v := range m {
			if c, keep := coerce(v, t.Elem()); keep {
				m[k] = c
			} else {
				delete(m, k)
			}
		}
		return m, true
	case reflect.Slice:
		list, ok := value.([]any)
		if !ok {
			// One object where a list is expected: a list of one.
			list = []any{value}
		}
		out := make([]any, 0, len(list))
		for _, e := range list {
			if c, keep := coerce(e, t.Elem()); keep {
				out = append(out, c)
			}
		}
		return out, true
	default:
		return value, true
	}
}

func coerceString(value any) any {
	switch x := value.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	default:
		// An object or list where text is expected (spamProcessingDetail is a JSON string in SIEM
		// files and an object elsewhere): keep its JSON text.
		b, err := json.Marshal(x)
		if err != nil {
			return ""
		}
		return string(b)
	}
}

func coerceBool(value any) (any, bool) {
	switch x := value.(type) {
	case bool:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f != 0, err == nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "yes", "y", "1", "on":
			return true, true
		case "false", "no", "n", "0", "off", "":
			return false, true
		}
	}
	return nil, false
}

func coerceNumber(value any, t reflect.Type, signed bool) (any, bool) {
	f, ok := numberOf(value)
	if !ok {
		return nil, false
	}
	f = math.Trunc(f)
	bits := t.Bits()
	if signed {
		limit := math.Ldexp(1, bits-1)
		if f < -limit || f >= limit {
			return nil, false
		}
		return int64(f), true
	}
	if f < 0 || f >= math.Ldexp(1, bits) {
		return nil, false
	}
	return uint64(f), true
}

func coerceFloat(value any) (any, bool) {
	f, ok := numberOf(value)
	if !ok {
		return nil, false
	}
	return f, true
}

func numberOf(value any) (float64, bool) {
	var s string
	switch x := value.(type) {
	case json.Number:
		s = string(x)
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func coerceStruct(m map[string]any, t reflect.Type) map[string]any {
	fields := structFields(t)
	for k, v := range m {
		ft, ok := fields.lookup(k)
		if !ok {
			continue // unknown fields are ignored by encoding/json anyway
		}
		if c, keep := coerce(v, ft); keep {
			m[k] = c
		} else {
			delete(m, k)
		}
	}
	return m
}

type fieldSet struct {
	exact map[string]reflect.Type
	names []string // for case-insensitive matching, as encoding/json does
}

func (fs fieldSet) lookup(key string) (reflect.Type, bool) {
	if t, ok := fs.exact[key]; ok {
		return t, true
	}
	for _, n := range fs.names {
		if strings.EqualFold(n, key) {
			return fs.exact[n], true
		}
	}
	return nil, false
}

var fieldCache sync.Map // reflect.Type -> fieldSet

func structFields(t reflect.Type) fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(fieldSet)
	}
	fs := fieldSet{exact: map[string]reflect.Type{}}
	collectFields(t, &fs)
	fieldCache.Store(t, fs)
	return fs
}

func collectFields(t reflect.Type, fs *fieldSet) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			collectFields(f.Type, fs)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := fs.exact[name]; !dup {
			fs.exact[name] = f.Type
			fs.names = append(fs.names, name)
		}
	}
}

// TextList is a list of strings that also accepts a single value for a list of one, and
// elements of other kinds as text, as coerce does for a []string field. Having its own decoder
// keeps such a record off coerce's slow path (decode to any, re-encode, decode again), which a
// field the API sends as a single string would otherwise take for every record.
type TextList []string

func (l *TextList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch jsonKind(b) {
	case 'n':
		*l = nil
		return nil
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = TextList{s}
		return nil
	case '[':
		var list []string
		if json.Unmarshal(b, &list) == nil {
			*l = list
			return nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	out := make(TextList, len(items))
	for i, it := range items {
		if it != nil {
			out[i], _ = coerceString(it).(string)
		}
	}
	*l = out
	return nil
}
