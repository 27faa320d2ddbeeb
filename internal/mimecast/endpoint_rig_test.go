package mimecast

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const endpointRigToken = "endpoint-rig-ACCESS-token"

// seenRequest is what the endpoint rig's server received.
type seenRequest struct {
	Method, Path, RawQuery, Auth string
	Body                         []byte
}

// endpointRig is an httptest server speaking just enough Mimecast (a token endpoint plus the
// routes a test adds) and a real Client pointed at it.
type endpointRig struct {
	t      *testing.T
	srv    *httptest.Server
	client *Client

	mu     sync.Mutex
	seen   []seenRequest
	routes map[string]http.HandlerFunc // "METHOD /path"
}

func newEndpointRig(t *testing.T) *endpointRig {
	t.Helper()
	r := &endpointRig{t: t, routes: map[string]http.HandlerFunc{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	c, err := New(Config{
		APIURL:       r.srv.URL,
		ClientID:     "endpoint-rig-id",
		ClientSecret: "endpoint-rig-secret",
		MaxRetries:   -1,
		Timeout:      5 * time.Second,
		Sleep:        func(context.Context, time.Duration) error { return nil },
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	r.client = c
	return r
}

func (r *endpointRig) handle(method, path string, h http.HandlerFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.routes[method+" "+path] = h
}

// handleJSON serves body as application/json.
func (r *endpointRig) handleJSON(method, path string, body []byte) {
	r.handle(method, path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

func (r *endpointRig) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if req.URL.Path == "/oauth/token" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"` + endpointRigToken + `","token_type":"Bearer","expires_in":1799,"scope":""}`))
		return
	}
	r.mu.Lock()
	r.seen = append(r.seen, seenRequest{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Get("Authorization"), body})
	h := r.routes[req.Method+" "+req.URL.Path]
	r.mu.Unlock()
	if h == nil {
		http.Error(w, `{"fail":[{"code":"not_found","message":"no route"}]}`, http.StatusNotFound)
		return
	}
	h(w, req)
}

// requests returns what reached path, in order.
func (r *endpointRig) requests(path string) []seenRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []seenRequest
	for _, s := range r.seen {
		if s.Path == path {
			out = append(out, s)
		}
	}
	return out
}
