package mimecast

import (
	"bytes"
	"encoding/json"
)

// Boundary scanning of JSON that json.Valid accepted: no validation, no decoding, no copies.
// Every function assumes valid input; on anything else it stays in bounds and returns garbage.

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index just past the string whose opening quote is at b[i].
func stringEnd(b []byte, i int) int {
	i++
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return len(b)
		}
		i += q
		// The quote closes the string unless an odd number of backslashes escapes it.
		n := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			n++
		}
		i++
		if n%2 == 0 {
			return i
		}
	}
}

// valueEnd returns the index just past the value that starts at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = stringEnd(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default: // number, true, false, null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// arrayElements returns the elements of the array raw (trimmed, starting with '[').
func arrayElements(raw []byte) []json.RawMessage {
	out := []json.RawMessage{}
	i := skipJSONSpace(raw, 1)
	for i < len(raw) && raw[i] != ']' {
		end := valueEnd(raw, i)
		out = append(out, json.RawMessage(raw[i:end:end]))
		i = skipJSONSpace(raw, end)
		if i < len(raw) && raw[i] == ',' {
			i = skipJSONSpace(raw, i+1)
		}
	}
	return out
}

// objectMembers calls fn with the decoded name and the value of each member of the object raw
// (trimmed, starting with '{'), in order.
func objectMembers(raw []byte, fn func(name, value []byte)) {
	i := skipJSONSpace(raw, 1)
	for i < len(raw) && raw[i] == '"' {
		keyEnd := stringEnd(raw, i)
		name := raw[i+1 : keyEnd-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			var s string
			if json.Unmarshal(raw[i:keyEnd], &s) == nil {
				name = []byte(s)
			}
		}
		i = skipJSONSpace(raw, keyEnd)
		i = skipJSONSpace(raw, i+1) // past ':'
		if i >= len(raw) {
			return
		}
		end := valueEnd(raw, i)
		fn(name, raw[i:end:end])
		i = skipJSONSpace(raw, end)
		if i < len(raw) && raw[i] == ',' {
			i = skipJSONSpace(raw, i+1)
		}
	}
}
