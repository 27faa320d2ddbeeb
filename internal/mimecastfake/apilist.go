package mimecastfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Function-level failure codes of the fake's /api/* lists, modelled on the err_* codes of Mimecast's
// API 1.0 docs (the exact 2.0 codes for these cases were not published).
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
	token := req.Meta.Pagination.PageToken
	cur, err := openCursor(token, fingerprint(endpoint, filter), s.now())
	if err != nil {
		writeFieldFail(w, key, errCodePageToken, "pageToken", "The page token is invalid or does not belong to this request")
		return pageCursor{}, 0, false
	}
	if token != "" && s.takeFault(faultRefusePageTokens) {
		writeFieldFailStatus(w, http.StatusBadRequest, key, errCodePageToken, "pageToken", "The page token has expired")
		return pageCursor{}, 0, false
	}
	return cur, size, true
}

// pageRender appends record i of a list to o as one JSON object.
type pageRender func(o *jsonOut, i int)

// pageShape is where an endpoint puts its records in "data": data[] itself (name empty), or
// the list member name of a single wrapper object data[0], with the total of matching records
// beside it as member count when count is set. count must sort after name: the wrapper was a
// map, which encoding/json writes in key order.
type pageShape struct {
	name  string
	count string
}

// servePage renders one page of walk with render and writes the envelope.
func (s *Server) servePage(w http.ResponseWriter, token string, cur pageCursor, size int, walk recordWalk,
	render pageRender, shape pageShape,
) {
	p := s.listPage(token, cur, walk, size)
	o := getJSONOut()
	defer putJSONOut(o)
	o.b = append(o.b, `{"data":[`...)
	if shape.name != "" {
		o.b = append(o.b, '{')
		o.array(shape.name)
	}
	for _, i := range p.indices {
		render(o, i)
	}
	if shape.name != "" {
		o.endArray()
		if shape.count != "" {
			o.num(shape.count, p.total)
		}
		o.endObject()
	}
	o.endArray()
	o.b = append(o.b, `,"fail":[],"meta":{"pagination":{"pageSize":`...)
	o.b = strconv.AppendInt(o.b, int64(len(p.indices)), 10)
	o.b = append(o.b, `,"totalCount":`...)
	o.b = strconv.AppendInt(o.b, int64(p.total), 10)
	if p.next != "" {
		o.str("next", p.next)
	}
	o.b = append(o.b, "},\"status\":200}}\n"...)
	if rec, ok := w.(*statusRecorder); ok {
		rec.servedEnvelope = true
	}
	writeJSONBytes(w, http.StatusOK, o.b)
}

// jsonRecord renders a record built as a value for encoding/json: the lists that are not on a
// benchmark's hot path keep their readable map form.
func jsonRecord(record func(i int) any) pageRender {
	return func(o *jsonOut, i int) {
		b, _ := json.Marshal(record(i))
		o.sep()
		o.b = append(o.b, b...)
	}
}

// duplicateAcrossPages consumes the DuplicateAcrossPages fault. List handlers ask it only for
// a follow-up page (one asked for with a token), which then starts with the previous page's
// last record again, as the hold list does on real tenants.
func (s *Server) duplicateAcrossPages() bool { return s.takeFault(faultDuplicateAcrossPages) }

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
