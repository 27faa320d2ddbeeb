package mimecastfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// statusClientClosed is recorded (never sent) when the client went away before a response was
// written, following nginx's convention.
const statusClientClosed = 499

// guard wraps an authenticated endpoint of product. In order: count the call and track
// concurrency; check the bearer token (401 unauthorized / token_expired); check the client's
// products (403 app_forbidden); charge the client's quota (429); inject faults; run h.
func (s *Server) guard(path, product string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := s.begin(path, w)
		defer s.end(path, rec)
		if !wait(r, s.opts.Latency.API, s.opts.Latency.APIJitter) {
			return
		}
		// Every gateway answer names the request, as Mimecast's does.
		rec.Header().Set("X-Request-Id", fmt.Sprintf("fake-%d", s.requestSeq.Add(1)))

		client, token, res := s.authenticate(r)
		switch res {
		case authMissing:
			writeGatewayFail(rec, http.StatusUnauthorized, "unauthorized", "Authentication is required: send a valid bearer token")
			return
		case authExpired:
			writeGatewayFail(rec, http.StatusUnauthorized, "token_expired", "The access token has expired")
			return
		}
		if !hasProduct(client, product) {
			writeGatewayFail(rec, http.StatusForbidden, "app_forbidden", "Forbidden to perform the requested operation")
			return
		}
		q := s.chargeQuota(client.ID)
		if !q.allowed {
			setRateLimitHeaders(rec.Header(), q.limit, 0, q.reset)
			if s.opts.Quota.RetryAfter {
				setRetryAfter(rec.Header(), q.reset)
			}
			writeRateLimited(rec)
			return
		}
		if q.limit > 0 && s.opts.Quota.HeadersAlways {
			setRateLimitHeaders(rec.Header(), q.limit, q.remaining, q.reset)
		}
		if s.injectFault(rec, r, path, token, q) {
			return
		}
		if s.takeFault(faultResetMidBody) {
			serveCutOff(rec, r, h)
			return
		}
		h(rec, r)
	})
}

// countOnly wraps an endpoint that takes no token (token endpoint, pre-signed downloads): it is
// counted, takes part in the concurrency gauge and answers after latency and up to jitter more,
// nothing else.
func (s *Server) countOnly(path string, latency, jitter time.Duration, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := s.begin(path, w)
		defer s.end(path, rec)
		if !wait(r, latency, jitter) {
			return
		}
		h(rec, r)
	})
}

// wait holds a request for latency and a uniform random part of jitter, and reports false when
// the client went away meanwhile.
func wait(r *http.Request, latency, jitter time.Duration) bool {
	d := latency
	if jitter > 0 {
		d += rand.N(jitter)
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (s *Server) begin(path string, w http.ResponseWriter) *statusRecorder {
	s.beginRequest(path)
	return &statusRecorder{ResponseWriter: w}
}

func (s *Server) end(path string, rec *statusRecorder) {
	status := rec.status
	if status == 0 {
		status = statusClientClosed
	}
	s.endRequest(path, status)
}

// injectFault applies the first pending fault that hits this request and reports whether it
// wrote the response. Slow responses delay and then let the request through.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, path, token string, q quotaState) bool {
	headers, resetMs, slowBy, htmlStatus := s.faultSettings()
	if s.takeFault(faultRateLimitBurst) {
		reset := time.Duration(resetMs) * time.Millisecond
		limit := q.limit
		if limit == 0 {
			limit = 1
		}
		if headers == RateLimitHeadersReset || headers == RateLimitHeadersBoth {
			setRateLimitHeaders(w.Header(), limit, 0, reset)
		}
		if headers == RateLimitHeadersRetryAfter || headers == RateLimitHeadersBoth {
			setRetryAfter(w.Header(), reset)
		}
		writeRateLimited(w)
		return true
	}
	if s.inOutage() {
		writeGatewayFail(w, http.StatusServiceUnavailable, "service_unavailable", "The service is temporarily unavailable")
		return true
	}
	if s.takeFault(faultServerErrors) {
		writeGatewayFail(w, http.StatusInternalServerError, "internal_server_error", "An internal server error occurred")
		return true
	}
	if s.takeFault(faultExpireTokens) {
		s.revokeToken(token)
		writeGatewayFail(w, http.StatusUnauthorized, "token_expired", "The access token has expired")
		return true
	}
	if s.takeFault(faultUnverifiedTokens) {
		// What the gateway gives now and then to a valid token; rapid7's plugin has seen both.
		if s.unverified.Add(1)%2 == 1 {
			writeGatewayFail(w, http.StatusUnauthorized, "token_verification_failed", "The access token could not be verified")
		} else {
			writeGatewayFail(w, http.StatusUnauthorized, "Unauthorized Request", "Unauthorized Request")
		}
		return true
	}
	if s.takeFault(faultSlowResponses) {
		t := time.NewTimer(slowBy)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	if s.takeFault(faultHTMLErrorPages) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(htmlStatus)
		title := fmt.Sprintf("%d %s", htmlStatus, http.StatusText(htmlStatus))
		_, _ = io.WriteString(w, "<html>\r\n<head><title>"+title+"</title></head>\r\n<body>\r\n"+
			"<center><h1>"+title+"</h1></center>\r\n</body>\r\n</html>\r\n")
		return true
	}
	if strings.HasPrefix(path, "/api/") && s.takeFault(faultFailWith200) {
		writeFunctionFail(w, http.StatusOK, firstDataItem(r), "err_unexpected_failure",
			"The request could not be processed at this time", false)
		return true
	}
	return false
}

// firstDataItem reads data[0] of an /api/* body for the key echo of an injected failure.
func firstDataItem(r *http.Request) json.RawMessage {
	var req apiRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || len(req.Data) == 0 {
		return nil
	}
	return req.Data[0]
}

// serveCutOff runs h into a buffer, then sends the headers (with the full Content-Length) and
// half the body, and drops the connection: the client sees an unexpected EOF mid-body, as when
// a load balancer resets a long response.
func serveCutOff(w http.ResponseWriter, r *http.Request, h http.HandlerFunc) {
	buf := &bufferedResponse{header: http.Header{}}
	h(buf, r)
	for k, v := range buf.header {
		w.Header()[k] = v
	}
	body := buf.body.Bytes()
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(buf.statusOrOK())
	_, _ = w.Write(body[:len(body)/2])
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	conn, _, err := rc.Hijack()
	if err != nil {
		// HTTP/2 cannot hijack; aborting the handler resets the stream instead.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// statusRecorder remembers the status a handler sent, for Stats.
type statusRecorder struct {
	http.ResponseWriter
	status         int
	servedEnvelope bool // writeEnvelope answered: a successful /api/* response
	emptyPage      bool // the answer holds no records (see markEmptyPage)
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush lets streaming handlers (file downloads) flush through the recorder.
func (s *statusRecorder) Flush() { _ = http.NewResponseController(s.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the connection (Hijack, deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// bufferedResponse captures a whole response in memory.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) statusOrOK() int {
	if b.status == 0 {
		return http.StatusOK
	}
	return b.status
}
