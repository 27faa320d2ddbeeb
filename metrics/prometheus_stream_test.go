package metrics

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
)

func TestStreamMetricsReachTheMountedHandler(t *testing.T) {
	mux := http.NewServeMux()
	b := service.NewStreamBuilder()
	b.SetHTTPMux(mux)
	require.NoError(t, b.SetLoggerYAML(`level: none`))
	require.NoError(t, b.SetMetricsYAML(`prometheus: {}`))
	require.NoError(t, b.AddInputYAML(`
label: gen
generate:
  count: 3
  interval: ""
  mapping: 'root.id = counter()'
`))
	require.NoError(t, b.AddProcessorYAML(`
label: seen
metric:
  type: counter
  name: threats_seen
  labels:
    feed: siem
`))
	require.NoError(t, b.AddOutputYAML(`drop: {}`))
	s, err := b.Build()
	require.NoError(t, err)

	// The generate input ends after count messages, so Run returns once all
	// three have been processed and acked.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Run(ctx))

	body := scrape(t, func(w http.ResponseWriter, r *http.Request) { mux.ServeHTTP(w, r) })
	assert.Contains(t, body, `input_received{label="gen",path="root.input"} 3`+"\n")
	assert.Contains(t, body, `threats_seen{feed="siem",label="seen",path="root.pipeline.processors.0"} 3`+"\n")
	assert.Contains(t, body, "# TYPE output_latency_seconds histogram\n")
}

// freeLoopbackAddr reserves a port long enough to learn its number. Another
// process could take it before the stream binds it, which would show up as a
// build error, not a false pass.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestConfiguredHTTPServerServesMetrics(t *testing.T) {
	addr := freeLoopbackAddr(t)
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetYAML(fmt.Sprintf(`
http:
  enabled: true
  address: %s
input:
  label: ticker
  generate:
    interval: 10ms
    mapping: 'root.n = counter()'
output:
  drop: {}
metrics:
  prometheus: {}
logger:
  level: none
`, addr)))
	s, err := b.Build()
	require.NoError(t, err)

	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(t.Context()) }()

	client := &http.Client{Timeout: time.Second}
	var body string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/metrics", nil)
		require.NoError(c, err)
		res, err := client.Do(req)
		require.NoError(c, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(c, err)
		body = string(b)
		assert.Contains(c, body, `input_received{label="ticker",path="root.input"}`)
	}, 5*time.Second, 20*time.Millisecond)
	assert.True(t, strings.HasPrefix(body, "# HELP"), "text exposition format")

	require.NoError(t, s.StopWithin(5*time.Second))
	select {
	case err := <-runErr:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("stream did not stop")
	}
}
