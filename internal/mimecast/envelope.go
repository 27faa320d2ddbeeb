package mimecast

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// requestEnvelope is the /api/* request body. Meta is omitted on an unpaged first call; data is
// always an array ([] for parameterless calls) because the API repeats the call per item.
type requestEnvelope struct {
	Meta *requestMeta `json:"meta,omitempty"`
	Data []any        `json:"data"`
}

type requestMeta struct {
	Pagination Pagination `json:"pagination"`
}

func encodeEnvelope(item any, pag Pagination) ([]byte, error) {
	env := requestEnvelope{Data: []any{}}
	if item != nil {
		env.Data = []any{item}
	}
	if pag != (Pagination{}) {
		env.Meta = &requestMeta{Pagination: pag}
	}
	return json.Marshal(env)
}

// callAPI: encode the envelope, send it through the API stack (client.go), decode the answer.
func (c *Client) callAPI(ctx context.Context, path string, item any, pag Pagination) (*Envelope, error) {
	body, err := encodeEnvelope(item, pag)
	if err != nil {
		return nil, fmt.Errorf("encoding %s request: %w", path, err)
	}
	resp, err := c.send(ctx, c.api, http.MethodPost, path, nil, body)
	if err != nil {
		return nil, err
	}
	data, valid := bufferedJSON(resp)
	env, apiErr := decodeEnvelopeIn(c.redact, path, resp.StatusCode, data, valid)
	if apiErr != nil {
		return nil, withRequestID(apiErr, resp.Header)
	}
	return env, nil
}

// postStream sends an /api/* request whose answer is a file. Mimecast reports failures of these
// endpoints as a JSON envelope, so a JSON answer carrying fail[] is an error; any other answer
// (including JSON without fail[], which may be the file itself) is the stream, which resumes
// where it broke off if the transfer fails (see resumingBody).
func (c *Client) postStream(ctx context.Context, path string, item any) (io.ReadCloser, string, error) {
	body, err := encodeEnvelope(item, Pagination{})
	if err != nil {
		return nil, "", fmt.Errorf("encoding %s request: %w", path, err)
	}
	resp, err := c.send(ctx, c.stream, http.MethodPost, path, nil, body)
	if err != nil {
		return nil, "", err
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
		return nil, "", withRequestID(c.redact.apiError(errorFromBody(c.redact, path, resp.StatusCode, b)), resp.Header)
	}
	content := c.resumingBody(ctx, path, body, resp)
	if !isJSON(ct) {
		return content, ct, nil
	}
	// Failure envelopes are small; anything larger than the peek is content.
	head, err := io.ReadAll(io.LimitReader(content, streamPeekBytes+1))
	if err != nil {
		content.Close()
		return nil, "", err
	}
	if len(head) <= streamPeekBytes && hasFail(head) {
		content.Close()
		return nil, "", withRequestID(c.redact.apiError(errorFromBody(c.redact, path, resp.StatusCode, head)), resp.Header)
	}
	return readCloser{Reader: io.MultiReader(bytes.NewReader(head), content), Closer: content}, ct, nil
}

const (
	streamPeekBytes = 1 << 20
	errorBodyLimit  = 64 << 10
)

type readCloser struct {
	io.Reader
	io.Closer
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return strings.Contains(contentType, "json")
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// hasFail reports whether b is a JSON object with a non-empty fail array.
func hasFail(b []byte) bool {
	var probe struct {
		Fail []json.RawMessage `json:"fail"`
	}
	return json.Unmarshal(b, &probe) == nil && len(probe.Fail) > 0
}

// ListPage fetches one page of an /api/* list endpoint with the client's page size and decodes its
// data with decode (which knows whether data is a flat list or a wrapper object). The stop rule
// is the one integrators converged on: Next is empty when data is empty or next is missing; a
// non-empty fail[] is an error, so a next token is never followed past a failure; and a next
// token equal to the one sent is dropped, because following it would loop forever.
//
// decode gets data and whether it is known to be valid JSON (it checks when it is not).
func ListPage[T any](ctx context.Context, c *Client, path string, item any, token string, decode func(data json.RawMessage, known bool) ([]T, error)) (Page[T], error) {
	env, err := c.CallAPI(ctx, path, item, Pagination{PageSize: c.PageSize(), PageToken: token})
	if err != nil {
		return Page[T]{}, err
	}
	items, err := decode(env.Data, dataIsValid)
	if err != nil {
		return Page[T]{}, c.dataError(path, env, err)
	}
	return Page[T]{Items: items, Next: nextToken(env, token, len(items)), Total: max(env.Meta.Pagination.TotalCount, 0)}, nil
}

// nextToken applies ListPage's stop rule to a page of n records asked for with token.
func nextToken(env *Envelope, token string, n int) string {
	next := env.Meta.Pagination.Next
	if n == 0 || next == token {
		return ""
	}
	return next
}

// dataError is the error for a page whose data does not hold its records where they belong.
func (c *Client) dataError(path string, env *Envelope, err error) error {
	return c.redact.apiError(&APIError{
		Endpoint:   path,
		StatusCode: http.StatusOK,
		Body:       c.redact.snippet(env.Data, snippetLen),
		Err:        fmt.Errorf("decoding data: %w", err),
	})
}

// decodeEnvelope turns an /api/* answer into an Envelope or an *APIError. It accepts every shape
// integrators report (flat and nested fail entries, data as list or wrapper object, numbers sent
// as strings) and rejects everything else with an error showing what arrived. It never panics:
// see FuzzDecodeEnvelope.
func decodeEnvelope(r *redactor, endpoint string, status int, body []byte) (*Envelope, *APIError) {
	return decodeEnvelopeIn(r, endpoint, status, body, json.Valid(body))
}

// decodeEnvelopeIn is decodeEnvelope for a body whose validity is known (see bufferedJSON).
func decodeEnvelopeIn(r *redactor, endpoint string, status int, body []byte, valid bool) (*Envelope, *APIError) {
	fail := func(err error) *APIError {
		return r.apiError(&APIError{
			Endpoint:   endpoint,
			StatusCode: status,
			Body:       r.snippet(body, snippetLen),
			Retryable:  retryableStatus(status),
			Err:        err,
		})
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fail(errors.New("empty response body"))
	}
	raw, err := envelopeMembers(body, valid)
	if err != nil {
		return nil, fail(describeJSONError(body, err))
	}
	if status < 200 || status > 299 {
		return nil, errorFromBody(r, endpoint, status, body)
	}
	fails, err := decodeFails(raw.Fail)
	if err != nil {
		return nil, fail(err)
	}
	if len(fails) > 0 {
		return nil, failError(r, endpoint, status, fails)
	}
	env := &Envelope{}
	if !isNull(raw.Meta) {
		var meta struct {
			Status     flexInt            `json:"status"`
			Pagination ResponsePagination `json:"pagination"`
		}
		if err := json.Unmarshal(raw.Meta, &meta); err != nil {
			return nil, fail(fmt.Errorf("decoding meta: %w", err))
		}
		env.Meta.Status = int(meta.Status)
		env.Meta.Pagination = meta.Pagination
	}
	switch kind := jsonKind(raw.Data); kind {
	case '[', '{':
		env.Data = raw.Data
	case 0, 'n':
		env.Data = json.RawMessage("[]")
	default:
		return nil, fail(fmt.Errorf("data is a %s, not a list or an object", kindName(kind)))
	}
	return env, nil
}

// envelopeRaw holds the top-level members of an /api/* answer, undecoded.
type envelopeRaw struct {
	Meta json.RawMessage `json:"meta"`
	Data json.RawMessage `json:"data"`
	Fail json.RawMessage `json:"fail"`
}

// envelopeMembers finds meta, data and fail as json.Unmarshal into envelopeRaw does (names match
// case-insensitively; of repeated names the last counts). A body already known to be a valid
// object is scanned for boundaries only: decoding it would validate the whole page again and
// then skip over data, two more passes over every record.
func envelopeMembers(body []byte, valid bool) (envelopeRaw, error) {
	var raw envelopeRaw
	if t := bytes.TrimSpace(body); valid && len(t) > 0 && t[0] == '{' {
		objectMembers(t, func(name, value []byte) {
			switch {
			case bytes.EqualFold(name, []byte("meta")):
				raw.Meta = value
			case bytes.EqualFold(name, []byte("data")):
				raw.Data = value
			case bytes.EqualFold(name, []byte("fail")):
				raw.Fail = value
			}
		})
		return raw, nil
	}
	err := json.Unmarshal(body, &raw)
	return raw, err
}

// decodeFails reads fail[] leniently: null or absent is no failure; anything else must be an
// array of objects.
func decodeFails(raw json.RawMessage) ([]FailEntry, error) {
	switch kind := jsonKind(raw); kind {
	case 0, 'n':
		return nil, nil
	case '[':
	default:
		return nil, fmt.Errorf("fail is a %s, not a list", kindName(kind))
	}
	var entries []FailEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("decoding fail: %w", err)
	}
	return entries, nil
}

// maxFailEntries bounds what an error carries from a fail[] that lists one entry per bad item.
const maxFailEntries = 10

// failError builds the error for a non-empty fail[]: codes and messages from errors[] (function
// level) or from the entry itself (gateway level). It is retryable when the status is, or when
// every listed error says retryable.
func failError(r *redactor, endpoint string, status int, fails []FailEntry) *APIError {
	e := &APIError{Endpoint: endpoint, StatusCode: status, Retryable: retryableStatus(status)}
	allRetryable, sawError := true, false
	add := func(code, msg string) {
		if (code != "" || msg != "") && len(e.Codes) < maxFailEntries {
			e.Codes = append(e.Codes, code)
			e.Messages = append(e.Messages, r.snippet([]byte(msg), snippetLen))
		}
	}
	for _, f := range fails {
		if len(f.Errors) == 0 {
			add(f.Code, f.Message)
			allRetryable = false
			sawError = true
			continue
		}
		for _, fe := range f.Errors {
			add(fe.Code, fe.Message)
			allRetryable = allRetryable && fe.Retryable
			sawError = true
		}
	}
	if sawError && allRetryable {
		e.Retryable = true
	}
	if len(e.Codes) == 0 {
		e.Err = errors.New("fail[] holds entries without a code or a message")
	}
	return r.apiError(e)
}

// errorFromBody builds the *APIError for a failed exchange from whatever the body holds: a
// gateway or function fail[], a SIEM {"error":{code,message}}, an OAuth2 {"error":"...",
// "error_description":"..."}, a bare {"message":"..."}; otherwise the start of the body.
func errorFromBody(r *redactor, endpoint string, status int, body []byte) *APIError {
	e := &APIError{Endpoint: endpoint, StatusCode: status, Retryable: retryableStatus(status)}
	var shapes struct {
		Fail             json.RawMessage `json:"fail"`
		Error            json.RawMessage `json:"error"`
		ErrorDescription string          `json:"error_description"`
		Message          json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &shapes) == nil {
		if fails, err := decodeFails(shapes.Fail); err == nil && len(fails) > 0 {
			fe := failError(r, endpoint, status, fails)
			fe.Retryable = fe.Retryable || e.Retryable || fe.TransientAuth()
			return fe
		}
		var siem struct {
			Code    any `json:"code"`
			Message any `json:"message"`
		}
		switch jsonKind(shapes.Error) {
		case '{':
			if json.Unmarshal(shapes.Error, &siem) == nil && (siem.Code != nil || siem.Message != nil) {
				e.Codes = []string{errorText(siem.Code)}
				e.Messages = []string{r.snippet([]byte(errorText(siem.Message)), snippetLen)}
				return r.apiError(e)
			}
		case '"':
			var code string
			_ = json.Unmarshal(shapes.Error, &code)
			e.Codes = []string{code}
			e.Messages = []string{r.snippet([]byte(shapes.ErrorDescription), snippetLen)}
			return r.apiError(e)
		}
		var msg string
		if jsonKind(shapes.Message) == '"' && json.Unmarshal(shapes.Message, &msg) == nil && msg != "" {
			e.Messages = []string{r.snippet([]byte(msg), snippetLen)}
			return r.apiError(e)
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		e.Err = errors.New("empty response body")
	} else {
		e.Body = r.snippet(body, snippetLen)
	}
	return r.apiError(e)
}

// describeJSONError says what arrived instead of JSON: the usual culprit is an HTML page from a
// proxy or a captive portal.
func describeJSONError(body []byte, err error) error {
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) > 0 && trimmed[0] == '<':
		return errors.New("response is HTML or XML, not JSON (a proxy or a wrong api_url?)")
	case len(trimmed) > 0 && trimmed[0] != '{' && trimmed[0] != '[':
		return errors.New("response is not JSON")
	case len(trimmed) > 0 && trimmed[0] == '[':
		return errors.New("response is a JSON list, not an envelope object")
	default:
		return fmt.Errorf("decoding JSON: %w", err)
	}
}

// jsonKind returns the first significant byte of a JSON value ('{', '[', '"', 'n' for null,
// 't'/'f', or a digit/'-' for numbers), or 0 when raw is empty.
func jsonKind(raw json.RawMessage) byte {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return 0
	}
	return t[0]
}

func kindName(k byte) string {
	switch k {
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "list"
	default:
		return "number"
	}
}

func isNull(raw json.RawMessage) bool {
	k := jsonKind(raw)
	return k == 0 || k == 'n'
}

func scalarText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		b, _ := json.Marshal(v)
		return truncate(string(b), snippetLen)
	}
}

// errorText is a JSON value of an error as text, whole: the caller redacts it before cutting it.
func errorText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// The decoders below make the Envelope types tolerant of the variations integrators report:
// numbers sent as strings ("pageSize":"100"), a boolean sent as a string, a null.

// UnmarshalJSON accepts numbers as JSON numbers or strings, and next/previous as strings or
// numbers.
func (p *ResponsePagination) UnmarshalJSON(b []byte) error {
	var raw struct {
		PageSize    flexInt    `json:"pageSize"`
		TotalCount  flexInt    `json:"totalCount"`
		RecordStart flexInt    `json:"recordStart"`
		Next        flexString `json:"next"`
		Previous    flexString `json:"previous"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*p = ResponsePagination{
		PageSize:    int(raw.PageSize),
		TotalCount:  int(raw.TotalCount),
		RecordStart: int(raw.RecordStart),
		Next:        string(raw.Next),
		Previous:    string(raw.Previous),
	}
	return nil
}

// UnmarshalJSON accepts code and message as any scalar and retryable as a boolean or a string.
func (f *FailError) UnmarshalJSON(b []byte) error {
	var raw struct {
		Code      flexString `json:"code"`
		Message   flexString `json:"message"`
		Field     flexString `json:"field"`
		Retryable flexBool   `json:"retryable"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*f = FailError{Code: string(raw.Code), Message: string(raw.Message), Field: string(raw.Field), Retryable: bool(raw.Retryable)}
	return nil
}

// UnmarshalJSON accepts code and message as any scalar and errors as a list or null.
func (f *FailEntry) UnmarshalJSON(b []byte) error {
	var raw struct {
		Key     json.RawMessage `json:"key"`
		Errors  []FailError     `json:"errors"`
		Code    flexString      `json:"code"`
		Message flexString      `json:"message"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*f = FailEntry{Key: raw.Key, Errors: raw.Errors, Code: string(raw.Code), Message: string(raw.Message)}
	return nil
}

type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
		*n = 0
	case float64:
		*n = flexInt(clampInt(v))
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", truncate(v, 40))
		}
		*n = flexInt(clampInt(f))
	default:
		return fmt.Errorf("a %T is not a number", v)
	}
	return nil
}

func clampInt(f float64) int {
	const limit = 1 << 53
	switch {
	case f != f: // NaN cannot come from JSON, but stay total
		return 0
	case f > limit:
		return limit
	case f < -limit:
		return -limit
	default:
		return int(f)
	}
}

type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
		*s = ""
	case string:
		*s = flexString(v)
	case float64, bool:
		*s = flexString(scalarText(v))
	default:
		return fmt.Errorf("a %s is not a string", kindName(jsonKind(b)))
	}
	return nil
}

type flexBool bool

func (x *flexBool) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
		*x = false
	case bool:
		*x = flexBool(v)
	case string:
		*x = flexBool(strings.EqualFold(strings.TrimSpace(v), "true"))
	default:
		*x = false
	}
	return nil
}
