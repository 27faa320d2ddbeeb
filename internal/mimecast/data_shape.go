package mimecast

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// The data member of an /api/* envelope comes in two shapes (both seen in integrators' recordings): the list of
// records itself (hold list, domains, account), or a list holding one wrapper object that names
// the list (data[0].clickLogs, data[0].users + userCount). These helpers find the records in
// either, without caring about anything else the wrapper holds.

// A page is validated once: by the transport that buffered it (known is then true), or where it
// enters these helpers; below that, the *Valid variants only find boundaries
// (valid_json_scan.go) instead of decoding the page again for every level of wrapping. Elements are sub-slices of the input, capped so that appending
// to one cannot write over the next.

// splitArray returns the elements of a JSON array; null or empty input is an empty list.
func splitArray(raw json.RawMessage) ([]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' && !json.Valid(raw) {
		var elems []json.RawMessage
		return nil, fmt.Errorf("splitting JSON array: %w", json.Unmarshal(raw, &elems))
	}
	return splitValidArray(raw)
}

// splitValidArray is splitArray for input json.Valid accepted.
func splitValidArray(raw json.RawMessage) ([]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '[' {
		return nil, fmt.Errorf("expected a JSON array, got %s", truncateForError(raw))
	}
	return arrayElements(raw), nil
}

// objectMember returns the member of a JSON object whose name is key (exact match first, then
// case-insensitive) and whether it was there. A value that is not an object has no members.
func objectMember(raw json.RawMessage, key string) (json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' || !json.Valid(raw) {
		return nil, false
	}
	return validObjectMember(raw, key)
}

// validObjectMember is objectMember for input json.Valid accepted. Of repeated names the last
// counts, as when decoding into a map.
func validObjectMember(raw json.RawMessage, key string) (json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	var exact, folded json.RawMessage
	var hasExact, hasFolded bool
	objectMembers(raw, func(name, value []byte) {
		switch {
		case string(name) == key:
			exact, hasExact = value, true
		case !hasExact && strings.EqualFold(string(name), key):
			folded, hasFolded = value, true
		}
	})
	if hasExact {
		return exact, true
	}
	return folded, hasFolded
}

// wrappedList collects the records under key in every wrapper of data (one wrapper per request
// item; this client sends one). A wrapper without the key contributes nothing: Mimecast leaves
// empty lists out. data may also be a single wrapper object rather than a list of them. known
// says data was already validated (it is checked otherwise).
func wrappedList(data json.RawMessage, known bool, key string) ([]json.RawMessage, error) {
	wrappers, valid, err := checkedWrappers(data, known)
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for _, w := range wrappers {
		var list json.RawMessage
		var ok bool
		if valid {
			list, ok = validObjectMember(w, key)
		} else {
			list, ok = objectMember(w, key)
		}
		if !ok {
			continue
		}
		elems, err := splitValidArray(list)
		if err != nil {
			return nil, fmt.Errorf("reading data[].%s: %w", key, err)
		}
		out = append(out, elems...)
	}
	return out, nil
}

func wrappersOf(data json.RawMessage, known bool) ([]json.RawMessage, error) {
	w, _, err := checkedWrappers(data, known)
	return w, err
}

// checkedWrappers is wrappersOf that also says whether data passed json.Valid. A single object
// is returned unchecked (objectMember then ignores it if it is broken), as a list of wrappers
// that is not valid JSON is an error.
func checkedWrappers(data json.RawMessage, known bool) (wrappers []json.RawMessage, valid bool, err error) {
	data = bytes.TrimSpace(data)
	valid = known || len(data) == 0 || json.Valid(data)
	if len(data) > 0 && data[0] == '{' {
		return []json.RawMessage{data}, valid, nil
	}
	if !valid {
		_, err := splitArray(data)
		return nil, false, fmt.Errorf("reading data: %w", err)
	}
	w, err := splitValidArray(data)
	if err != nil {
		return nil, true, fmt.Errorf("reading data: %w", err)
	}
	return w, true, nil
}

// flatOrWrappedList reads a list that the docs show flat but clients see wrapped (archive search:
// data[0].items in practice, data[] in the docs): when the first element has key, the wrapped
// form wins, otherwise data is the list.
func flatOrWrappedList(data json.RawMessage, known bool, key string) ([]json.RawMessage, error) {
	wrappers, valid, err := checkedWrappers(data, known)
	if err != nil {
		return nil, err
	}
	if len(wrappers) > 0 {
		member := objectMember
		if valid {
			member = validObjectMember
		}
		if _, ok := member(wrappers[0], key); ok {
			return wrappedList(data, true, key)
		}
	}
	return wrappers, nil
}

// wrapperInt reads a count that sits next to a wrapped list (resultCount, userCount) from the
// first wrapper; 0 when absent or not a number.
func wrapperInt(data json.RawMessage, known bool, key string) int {
	wrappers, valid, err := checkedWrappers(data, known)
	if err != nil || len(wrappers) == 0 {
		return 0
	}
	member := objectMember
	if valid {
		member = validObjectMember
	}
	v, ok := member(wrappers[0], key)
	if !ok {
		return 0
	}
	var n json.Number
	if json.Unmarshal(bytes.Trim(v, `"`), &n) != nil {
		return 0
	}
	i, err := n.Int64()
	if err != nil {
		return 0
	}
	return int(i)
}
