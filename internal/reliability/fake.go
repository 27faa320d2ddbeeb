package reliability

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// Fake is a simulated tenant served on a loopback port of the harness process.
type Fake struct {
	*mimecastfake.Server
	URL string
	srv *http.Server
}

// StartFake serves a tenant built from opts on 127.0.0.1.
func StartFake(opts mimecastfake.Options) (*Fake, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the simulated tenant: %w", err)
	}
	f := &Fake{Server: mimecastfake.New(opts), URL: "http://" + ln.Addr().String()}
	f.srv = &http.Server{Handler: f.Server, ReadHeaderTimeout: 10 * time.Second}
	// Serve returns only on Close or when the listener breaks; a broken listener shows up as
	// the pipeline's connection errors and as a run that makes no progress.
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// Close stops serving and drops open connections.
func (f *Fake) Close() { _ = f.srv.Close() }

// Env is what a pipeline config reads to reach the tenant.
func (f *Fake) Env() map[string]string {
	return map[string]string{
		"MIMECAST_API_URL":       f.URL,
		"MIMECAST_CLIENT_ID":     mimecastfake.DefaultClientID,
		"MIMECAST_CLIENT_SECRET": mimecastfake.DefaultClientSecret,
	}
}
