package mimecast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNoData is returned by single-object calls (message detail, message info, account) when
// Mimecast answered without an error but with an empty data list.
var ErrNoData = errors.New("response has no data")

// listFinder finds the record elements in an envelope's data (see data_shape.go); known says data
// was already validated as JSON.
type listFinder func(data json.RawMessage, known bool) ([]json.RawMessage, error)

// inWrapper finds the records under data[].key.
func inWrapper(key string) listFinder {
	return func(data json.RawMessage, known bool) ([]json.RawMessage, error) {
		return wrappedList(data, known, key)
	}
}

// flatOrWrapped finds the records under data[].key when the first wrapper has key, else in data.
func flatOrWrapped(key string) listFinder {
	return func(data json.RawMessage, known bool) ([]json.RawMessage, error) {
		return flatOrWrappedList(data, known, key)
	}
}

// flatList finds the records in data itself.
func flatList(data json.RawMessage, known bool) ([]json.RawMessage, error) {
	return wrappersOf(data, known)
}

// recordDecoder turns a listFinder into a decode function of the shape the client core's
// paginators take: the list's shape is a page-level error, a bad record is not.
func recordDecoder[T any, P recordPtr[T]](find listFinder) func(json.RawMessage, bool) ([]T, error) {
	return func(data json.RawMessage, known bool) ([]T, error) {
		elems, err := find(data, known)
		if err != nil {
			return nil, err
		}
		return decodeAll[T, P](elems), nil
	}
}

// fetchObject calls an /api/* endpoint that answers with one object in data[0].
func fetchObject[T any, P recordPtr[T]](ctx context.Context, c *Client, path string, item any) (*T, error) {
	env, err := c.CallAPI(ctx, path, item, Pagination{})
	if err != nil {
		return nil, err
	}
	elems, err := flatList(env.Data, dataIsValid)
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	if len(elems) == 0 {
		return nil, fmt.Errorf("calling %s: %w", path, ErrNoData)
	}
	obj, err := decodeObject[T, P](elems[0])
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	return obj, nil
}
