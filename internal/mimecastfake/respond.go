package mimecastfake

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// respPagination is meta.pagination of a response; Next is omitted on the last page.
type respPagination struct {
	PageSize   int    `json:"pageSize"`
	TotalCount int    `json:"totalCount"`
	Next       string `json:"next,omitempty"`
	Previous   string `json:"previous,omitempty"`
}

// handleAPI registers a POST /api/* endpoint of product. The middleware (guard) runs first:
// auth, permissions, quota, faults, counters. The body is decoded into an apiRequest; malformed
// JSON gets a 400.
func (s *Server) handleAPI(path, product string, h apiHandler) {
	s.mux.Handle("POST "+path, s.guard(path, product, func(w http.ResponseWriter, r *http.Request) {
		var req apiRequest
		if r.ContentLength != 0 {
			// An empty chunked body (ContentLength -1) is an empty request, not malformed JSON.
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
				writeJSON(w, http.StatusBadRequest, map[string]any{
					"meta": map[string]any{"status": 400}, "data": []any{},
					"fail": []any{map[string]any{"errors": []any{map[string]any{
						"code": "err_request_malformed", "message": "Request body is not valid JSON", "retryable": false}}}},
				})
				return
			}
		}
		h(w, r, &req)
		// A follow-up page counts as served when the handler answered with an envelope, so
		// Stats.PagesServedTwice covers every /api/* list without each handler reporting it.
		if rec, ok := w.(*statusRecorder); ok && rec.servedEnvelope {
			s.notePageServed(path, req.Meta.Pagination.PageToken, rec.emptyPage)
		}
	}))
}

// handleREST registers a REST-style endpoint (pattern like "GET /siem/v1/batch/events/cg") of
// product, behind the same middleware as handleAPI.
func (s *Server) handleREST(pattern, path, product string, h http.HandlerFunc) {
	s.mux.Handle(pattern, s.guard(path, product, func(w http.ResponseWriter, r *http.Request) {
		h(w, r)
		// REST lists page with ?nextPage=; errors there are never 200.
		if rec, ok := w.(*statusRecorder); ok && rec.status == http.StatusOK {
			s.notePageServed(path, r.URL.Query().Get("nextPage"), rec.emptyPage)
		}
	}))
}

// handlePublic registers an endpoint that takes no bearer token (pre-signed downloads). It is
// counted in the stats like every other endpoint.
func (s *Server) handlePublic(pattern, path string, h http.HandlerFunc) {
	s.mux.Handle(pattern, s.countOnly(path, s.opts.Latency.Download, s.opts.Latency.DownloadJitter, h))
}

// writeJSON writes v as a JSON body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeJSONBytes writes an already encoded JSON body with status.
func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeEnvelope writes a successful /api/* response. data is the value of "data" (a flat list or
// a one-element list holding a wrapper object, as each endpoint does); pag may be nil for
// unpaged endpoints.
func writeEnvelope(w http.ResponseWriter, data any, pag *respPagination) {
	if rec, ok := w.(*statusRecorder); ok {
		rec.servedEnvelope = true
	}
	meta := map[string]any{"status": http.StatusOK}
	if pag != nil {
		meta["pagination"] = pag
	}
	writeJSON(w, http.StatusOK, map[string]any{"meta": meta, "data": data, "fail": []any{}})
}

// writeFunctionFail writes a function-level failure: HTTP status (often 200) with
// fail[{key, errors[{code,message,retryable}]}].
func writeFunctionFail(w http.ResponseWriter, status int, key json.RawMessage, code, message string, retryable bool) {
	entry := map[string]any{"errors": []any{map[string]any{"code": code, "message": message, "retryable": retryable}}}
	if len(key) > 0 {
		entry["key"] = key
	}
	writeJSON(w, status, map[string]any{"meta": map[string]any{"status": status}, "data": []any{}, "fail": []any{entry}})
}

// writeGatewayFail writes a gateway-level failure: {"fail":[{"code","message"}]}.
func writeGatewayFail(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"fail": []any{map[string]any{"code": code, "message": message}}})
}

// writeSIEMError writes the SIEM endpoints' error shape: {"error":{"code","message"}}.
func writeSIEMError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": message}})
}

// writeFieldFail writes a validation failure of one data item: HTTP 200 with the item echoed in
// fail[0].key and the offending field named, as the API does for bad dates or enum values.
func writeFieldFail(w http.ResponseWriter, key json.RawMessage, code, field, message string) {
	writeFieldFailStatus(w, http.StatusOK, key, code, field, message)
}

// writeFieldFailStatus is writeFieldFail answered with HTTP status.
func writeFieldFailStatus(w http.ResponseWriter, status int, key json.RawMessage, code, field, message string) {
	e := map[string]any{"code": code, "message": message, "retryable": false}
	if field != "" {
		e["field"] = field
	}
	entry := map[string]any{"errors": []any{e}}
	if len(key) > 0 {
		entry["key"] = key
	}
	writeJSON(w, status, map[string]any{"meta": map[string]any{"status": status}, "data": []any{}, "fail": []any{entry}})
}
