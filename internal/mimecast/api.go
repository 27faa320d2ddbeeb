package mimecast

import (
	"context"
	"encoding/json"
	"io"
	"net/url"
)

// Pagination is the request side of meta.pagination.
type Pagination struct {
	PageSize  int    `json:"pageSize,omitempty"`
	PageToken string `json:"pageToken,omitempty"`
}

// ResponsePagination is the response side of meta.pagination.
type ResponsePagination struct {
	PageSize    int    `json:"pageSize,omitempty"`
	TotalCount  int    `json:"totalCount,omitempty"`
	RecordStart int    `json:"recordStart,omitempty"`
	Next        string `json:"next,omitempty"`
	Previous    string `json:"previous,omitempty"`
}

// Envelope is a decoded /api/* response. Data stays raw so that each endpoint decodes its own
// shape (a flat list, or a wrapper object holding a named list). Data is valid JSON: the
// decoder returns no Envelope for a body that is not, so finding records in it needs
// boundaries only (dataIsValid, data_shape.go).
type Envelope struct {
	Meta struct {
		Status     int                `json:"status,omitempty"`
		Pagination ResponsePagination `json:"pagination"`
	} `json:"meta"`
	Data json.RawMessage `json:"data"`
	Fail []FailEntry     `json:"fail"`
}

// dataIsValid is the known argument of the record finders for an Envelope's Data.
const dataIsValid = true

// FailEntry is one element of fail[]: function-level ({key, errors[]}) or gateway-level
// ({code, message}) failures both decode into it.
type FailEntry struct {
	Key     json.RawMessage `json:"key,omitempty"`
	Errors  []FailError     `json:"errors,omitempty"`
	Code    string          `json:"code,omitempty"`
	Message string          `json:"message,omitempty"`
}

// FailError is one element of fail[].errors[].
type FailError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	Retryable bool   `json:"retryable"`
}

// Page is one decoded page of an /api/* list endpoint. Next is empty on the last page.
type Page[T any] struct {
	Items []T
	Next  string
	// Total is how many records the whole listing holds as the API reports it (totalCount),
	// 0 when it reports none. A hint only: nothing promises it is right.
	Total int
}

// The primitives below are the only way endpoint code talks HTTP. Every one of them goes through
// the full layer stack (rate_limit hook, quota pacing, auth, retries, tracing, stats).

// CallAPI POSTs one /api/* request: {"meta":{"pagination":{pageSize,pageToken}},"data":[item]}
// (data is [] when item is nil, meta is omitted when pageSize is 0 and pageToken empty). A
// non-empty fail[] is returned as an *APIError even with HTTP 200.
func (c *Client) CallAPI(ctx context.Context, path string, item any, pag Pagination) (*Envelope, error) {
	return c.callAPI(ctx, path, item, pag)
}

// GetJSON GETs a REST-style endpoint (e.g. /siem/v1/batch/events/cg, /threats/v1/events) and
// decodes its JSON body into out. Error bodies of the SIEM shape ({"error":{code,message}}) and
// the gateway shape ({"fail":[...]}) become an *APIError.
func (c *Client) GetJSON(ctx context.Context, path string, query url.Values, out any) error {
	return c.getJSON(ctx, path, query, out)
}

// PostStream POSTs an /api/* request whose success response is a raw stream (archive
// get-message-part, get-file). A JSON body (by Content-Type) carrying a non-empty fail[] is
// returned as an error; any other body is the stream. A read that waits on the server for longer
// than Timeout fails; a slow reader does not. The caller closes the stream.
func (c *Client) PostStream(ctx context.Context, path string, item any) (io.ReadCloser, string, error) {
	return c.postStream(ctx, path, item)
}

// Download GETs a pre-signed URL WITHOUT the bearer token (and never follows a redirect with
// it). 403/404 return an *APIError with Expired() true; 5xx and network errors are retried.
// The body is as stored after Go undoes any Content-Encoding: a gzip file served as
// application/gzip arrives compressed, so sniff the gzip magic (1f 8b). Errors never contain
// the URL (its query is a signature). The caller closes the stream.
func (c *Client) Download(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	return c.download(ctx, rawURL)
}
