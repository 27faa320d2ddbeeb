package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// servedFake is a simulated tenant listening on a loopback address.
type servedFake struct {
	url    string
	srv    *http.Server
	served chan error
}

// serveFake starts serving a simulated tenant built from opts on addr ("127.0.0.1:0" picks a
// free port). Stop it with stop.
func serveFake(addr string, opts mimecastfake.Options) (*servedFake, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for the simulated tenant: %w", err)
	}
	f := &servedFake{
		url:    "http://" + ln.Addr().String(),
		srv:    &http.Server{Handler: mimecastfake.New(opts), ReadHeaderTimeout: 10 * time.Second},
		served: make(chan error, 1),
	}
	go func() { f.served <- f.srv.Serve(ln) }()
	return f, nil
}

// stop shuts the tenant down, giving requests in flight a few seconds.
func (f *servedFake) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stopping the simulated tenant: %w", err)
	}
	return nil
}

// reportFailure reports an unexpected end of serving (not a stop) on stderr; demo uses it in the
// background.
func (f *servedFake) reportFailure() {
	if err := <-f.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "simulated tenant stopped: %v\n", err)
	}
}
