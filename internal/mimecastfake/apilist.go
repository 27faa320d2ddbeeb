package mimecastfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Function-level failure codes of the fake's /api/* lists, modelled on the err_* codes the notes
// show (the exact 2.0 codes for these cases were not published).
const (
	errCodeInvalidRequest = "err_validation_invalid_request"
	errCodeInvalidDate    = "err_validation_invalid_date"
	errCodeInvalidValue   = "err_validation_invalid_value"
	errCodeMissingField   = "err_validation_missing_field"
	errCodePageToken      = "err_invalid_page_token"
)

// decodeItem decodes data[0] of req into filter (left untouched when data is empty) and returns
// the raw item for fail[].key. A type mismatch is answered with an HTTP 200 fail.
func decodeItem(w http.ResponseWriter, req *apiRequest, filter any) (json.RawMessage, bool) {
	if len(req.Data) == 0 {
		return nil, true
	}
	key := req.Data[0]
	if err := json.Unmarshal(key, filter); err != nil {
		writeFieldFail(w, key, errCodeInvalidRequest, jsonErrorField(err), fmt.Sprintf("The request data is invalid: %v", err))
		return key, false
	}
	return key, true
}

func jsonErrorField(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return te.Field
	}
	return ""
}

// openAPIPage reads page size and token of req and resumes (or starts) the crawl the token
// belongs to; a token of another request is refused with a function-level fail.
func (s *Server) openAPIPage(w http.ResponseWriter, endpoint string, req *apiRequest, key json.RawMessage, filter any) (pageCursor, int, bool) {
	size, err := parsePageSize(req.Meta.Pagination.PageSize, defaultPageSize, maxPageSize)
	if err != nil {
		writeFieldFail(w, key, errCodeInvalidValue, "pageSize", err.Error())
		return pageCursor{}, 0, false
	}
	cur, err := openCursor(req.Meta.Pagination.PageToken, fingerprint(endpoint, filter), s.now())
	if err != nil {
		writeFieldFail(w, key, errCodePageToken, "pageToken", "The page token is invalid or does not belong to this request")
		return pageCursor{}, 0, false
	}
	return cur, size, true
}

// servePage renders one page of walk with render and writes the envelope. wrap turns the
// rendered records into the value of "data" (flat list or wrapper object).
func (s *Server) servePage(w http.ResponseWriter, token string, cur pageCursor, size int, walk recordWalk,
	render func(i int) any, wrap func(records []any, total int) any,
) {
	p := nextPage(cur, walk, size, token != "" && s.duplicateAcrossPages())
	recs := make([]any, len(p.indices))
	for k, i := range p.indices {
		recs[k] = render(i)
	}
	writeEnvelope(w, wrap(recs, p.total), &respPagination{PageSize: len(recs), TotalCount: p.total, Next: p.next})
}

// duplicateAcrossPages consumes the DuplicateAcrossPages fault. List handlers ask it only for
// a follow-up page (one asked for with a token), which then starts with the previous page's
// last record again, as the hold list does on real tenants.
func (s *Server) duplicateAcrossPages() bool { return s.takeFault(faultDuplicateAcrossPages) }

// wrapList is the "data" of endpoints whose data[] is the list itself.
func wrapList(records []any, _ int) any { return records }

// wrapNamed is the "data" of endpoints that hold the list in a single wrapper object.
func wrapNamed(name string) func([]any, int) any {
	return func(records []any, _ int) any { return []any{map[string]any{name: records}} }
}

// checkEnum validates an optional enum field (case-insensitive) and writes the fail if needed.
func checkEnum(w http.ResponseWriter, key json.RawMessage, field, value string, allowed ...string) bool {
	if value == "" || slices.Contains(allowed, strings.ToLower(value)) {
		return true
	}
	writeFieldFail(w, key, errCodeInvalidValue, field,
		fmt.Sprintf("%s %q is not one of %s", field, value, strings.Join(allowed, ", ")))
	return false
}

// checkTimeRange resolves a request's time filter; a bad value is a fail naming the field.
func checkTimeRange(w http.ResponseWriter, key json.RawMessage, fromField, from, toField, to string, defFrom, defTo time.Time) (time.Time, time.Time, bool) {
	f, t, field, err := timeRange(fromField, from, toField, to, defFrom, defTo)
	if err != nil {
		writeFieldFail(w, key, errCodeInvalidDate, field, err.Error())
		return f, t, false
	}
	return f, t, true
}
