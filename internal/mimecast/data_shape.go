package mimecast

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// The data member of an /api/* envelope comes in two shapes (§5.2 of the API notes): the list of
// records itself (hold list, domains, account), or a list holding one wrapper object that names
// the list (data[0].clickLogs, data[0].users + userCount). These helpers find the records in
// either, without caring about anything else the wrapper holds.

// splitArray returns the elements of a JSON array; null or empty input is an empty list.
func splitArray(raw json.RawMessage) ([]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '[' {
		return nil, fmt.Errorf("expected a JSON array, got %s", truncateForError(raw))
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, fmt.Errorf("splitting JSON array: %w", err)
	}
	return elems, nil
}

// objectMember returns the member of a JSON object whose name is key (exact match first, then
// case-insensitive) and whether it was there. A value that is not an object has no members.
func objectMember(raw json.RawMessage, key string) (json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// wrappedList collects the records under key in every wrapper of data (one wrapper per request
// item; this client sends one). A wrapper without the key contributes nothing: Mimecast leaves
// empty lists out. data may also be a single wrapper object rather than a list of them.
func wrappedList(data json.RawMessage, key string) ([]json.RawMessage, error) {
	wrappers, err := wrappersOf(data)
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for _, w := range wrappers {
		list, ok := objectMember(w, key)
		if !ok {
			continue
		}
		elems, err := splitArray(list)
		if err != nil {
			return nil, fmt.Errorf("reading data[].%s: %w", key, err)
		}
		out = append(out, elems...)
	}
	return out, nil
}

func wrappersOf(data json.RawMessage) ([]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '{' {
		return []json.RawMessage{data}, nil
	}
	w, err := splitArray(data)
	if err != nil {
		return nil, fmt.Errorf("reading data: %w", err)
	}
	return w, nil
}

// flatOrWrappedList reads a list that the docs show flat but clients see wrapped (archive search:
// data[0].items in practice, data[] in the docs): when the first element has key, the wrapped
// form wins, otherwise data is the list.
func flatOrWrappedList(data json.RawMessage, key string) ([]json.RawMessage, error) {
	wrappers, err := wrappersOf(data)
	if err != nil {
		return nil, err
	}
	if len(wrappers) > 0 {
		if _, ok := objectMember(wrappers[0], key); ok {
			return wrappedList(data, key)
		}
	}
	return wrappers, nil
}

// wrapperInt reads a count that sits next to a wrapped list (resultCount, userCount) from the
// first wrapper; 0 when absent or not a number.
func wrapperInt(data json.RawMessage, key string) int {
	wrappers, err := wrappersOf(data)
	if err != nil || len(wrappers) == 0 {
		return 0
	}
	v, ok := objectMember(wrappers[0], key)
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
