package threats

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/hostile"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

// siemFileServer is a SIEM tenant of one event type whose listing names one batch file, served
// from the same host: the file is gzip-compressed NDJSON of the given lines.
func siemFileServer(t *testing.T, lines [][]byte) string {
	t.Helper()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for _, l := range lines {
		_, _ = zw.Write(l)
		_, _ = zw.Write([]byte("\n"))
	}
	require.NoError(t, zw.Close())
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/token":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"hostile-token-0123456789","token_type":"Bearer","expires_in":1799}`))
		case mimecast.PathSIEMBatch:
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Query().Get("nextPage") != "" {
				_, _ = w.Write([]byte(`{"value":[],"@nextPage":"p2","isCaughtUp":true}`))
				return
			}
			fmt.Fprintf(w, `{"value":[{"url":"%s/files/big.json.gz","expiry":"2099-01-01T00:00:00.000Z","size":%d}],"@nextPage":"p2","isCaughtUp":false}`, srv.URL, gz.Len())
		case "/files/big.json.gz":
			_, _ = w.Write(gz.Bytes())
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// bigSIEMLine is an av event of about size bytes.
func bigSIEMLine(i, size int) []byte {
	return fmt.Appendf(nil, `{"aggregateId":"a%d","processingId":"p%d","timestamp":%d,"type":"av","action":"Blocked","pad":"%s"}`,
		i, i, time.Now().Add(-time.Hour).UnixMilli()+int64(i), strings.Repeat("x", size))
}

// Large SIEM lines are held within max_bytes_in_flight: batches close at 4 MiB of records, and
// while no batch is acknowledged the input stops reading at the budget.
func TestThreatsSIEMHoldsLargeRecordsWithinMaxBytesInFlight(t *testing.T) {
	const lineSize, lines, budgetBytes = 300 << 10, 40, 1 << 20
	recs := make([][]byte, lines)
	for i := range recs {
		recs[i] = bigSIEMLine(i, lineSize)
	}
	url := siemFileServer(t, recs)
	yaml := streamtest.ConnYAML(url) + "poll_interval: 50ms\nlookback: 24h\n" + siemAV + "max_pages_in_flight: 64\n" +
		fmt.Sprintf("max_bytes_in_flight: %d\n", budgetBytes)
	conf, err := Spec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	cfg, err := threatsConfigFromParsed(conf, service.MockResources())
	require.NoError(t, err)
	in := newThreatsInput(cfg, service.MockResources())
	require.NoError(t, in.Connect(t.Context()))
	t.Cleanup(func() { _ = in.Close(context.Background()) })

	var held int64
	most := 0
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		batch, _, err := in.ReadBatch(ctx) // never acknowledged
		cancel()
		if err != nil {
			break // the input waits for acknowledgements
		}
		held += batchBytes(batch)
		most = max(most, len(batch))
	}
	const perBatch = (4<<20)/lineSize + 1
	require.Positive(t, held)
	assert.LessOrEqual(t, most, perBatch, "a batch closes at 4 MiB of records")
	assert.LessOrEqual(t, held, int64(max(budgetBytes, perBatch*(lineSize+200))), "unacknowledged bytes stay within the budget, or one batch larger than it")
	assert.Less(t, held, int64(lines*lineSize), "the input stopped before the end of the file")
}

// siemFilesServer lists the given files (name -> handler) on one page, in name order; a name
// starting with a scheme is listed as that URL as it is.
func siemFilesServer(t *testing.T, names []string, files map[string]http.HandlerFunc) string {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/oauth/token":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"hostile-token-0123456789","token_type":"Bearer","expires_in":1799}`))
		case r.URL.Path == mimecast.PathSIEMBatch:
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Query().Get("nextPage") != "" {
				_, _ = w.Write([]byte(`{"value":[],"@nextPage":"p2","isCaughtUp":true}`))
				return
			}
			var entries []string
			for _, n := range names {
				u := n
				if !strings.Contains(n, "://") {
					u = srv.URL + "/files/" + n
				}
				entries = append(entries, fmt.Sprintf(`{"url":%q,"expiry":"2099-01-01T00:00:00.000Z","size":100}`, u))
			}
			fmt.Fprintf(w, `{"value":[%s],"@nextPage":"p2","isCaughtUp":false}`, strings.Join(entries, ","))
		case strings.HasPrefix(r.URL.Path, "/files/"):
			if h, ok := files[strings.TrimPrefix(r.URL.Path, "/files/")]; ok {
				h(w, r)
				return
			}
			http.NotFound(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// gzipLines serves lines as a gzip-compressed NDJSON file.
func gzipLines(lines ...[]byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		zw := gzip.NewWriter(w)
		for _, l := range lines {
			_, _ = zw.Write(l)
			_, _ = zw.Write([]byte("\n"))
		}
		_ = zw.Close()
	}
}

// A batch file that can never be read does not block its event type: after bounded retries it
// is reported by name, as an ERROR and an error-flagged message, and the files after it arrive.
func TestThreatsSIEMSkipsAFileThatCanNeverBeReadAndReadsOn(t *testing.T) {
	cases := []struct {
		name  string
		names []string
		bad   string // the path the report names
	}{
		{"a file:// URL", []string{"a.json.gz", "file:///etc/passwd", "c.json.gz"}, "/etc/passwd"},
		{"a file that always answers 500", []string{"a.json.gz", "b.json.gz", "c.json.gz"}, "/files/b.json.gz"},
		{"a file cut on every transfer", []string{"a.json.gz", "cut.json.gz", "c.json.gz"}, "/files/cut.json.gz"},
		{"a file whose length lies on every transfer", []string{"a.json.gz", "lying.json.gz", "c.json.gz"}, "/files/lying.json.gz"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := siemFilesServer(t, tc.names, map[string]http.HandlerFunc{
				"a.json.gz": gzipLines(bigSIEMLine(1, 10), bigSIEMLine(2, 10)),
				"b.json.gz": func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) },
				"c.json.gz": gzipLines(bigSIEMLine(3, 10)),
				"cut.json.gz": hostile.Wrap(gzipLines(bigSIEMLine(4, 5000), bigSIEMLine(5, 5000)),
					hostile.Rule{Match: hostile.Any, Do: hostile.Cut{}}).ServeHTTP,
				"lying.json.gz": hostile.Wrap(gzipLines(bigSIEMLine(6, 10)),
					hostile.Rule{Match: hostile.Any, Do: hostile.LongerThanSent{Extra: 100}}).ServeHTTP,
			})
			c := streamtest.NewCollector()
			_, stop, obs := streamtest.StartObserved(t, streamtest.StreamSpec{Input: threatsYAML(url, siemAV+"max_retries: 0\n")}, c)
			c.WaitFor(t, 20*time.Second, func(m []*service.Message) bool { return len(m) >= 4 })
			msgs := streamtest.Settle(c)
			stop()
			var good, flagged int
			for _, m := range msgs {
				if m.GetError() != nil {
					flagged++
					assert.Contains(t, m.GetError().Error(), "siem batch file "+tc.bad+" could not be read")
					continue
				}
				good++
			}
			assert.Equal(t, 3, good, "the events of the files before and after it")
			assert.Equal(t, 1, flagged, "one error-flagged message names the file")
			said := 0
			for _, l := range obs.LogLines(slog.LevelError) {
				if l.Level == "ERROR" && strings.Contains(l.Msg, "giving up on batch file "+tc.bad) {
					said++
				}
			}
			assert.Equal(t, 1, said, "one ERROR names the file")
		})
	}
}

// While checkpoints cannot be written the input reads nothing new, says so once, and goes on
// when writes work again, losing and repeating nothing.
func TestThreatsStopReadingWhileTheCheckpointCannotBeWritten(t *testing.T) {
	cache := streamtest.NewFlakyCache()
	cache.Down.Store(true)
	_, url := streamtest.FakeTenant(t, chaosTenant(time.Now().UTC().Truncate(time.Minute), mimecastfake.Faults{}))
	env := service.NewEnvironment()
	require.NoError(t, streamtest.RegisterFlakyCache(env, "test_failing_cache", cache))
	obs := streamtest.NewObserver()
	b := env.NewStreamBuilder()
	b.SetLogger(slog.New(slog.NewJSONHandler(obs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	require.NoError(t, b.AddResourcesYAML("cache_resources:\n  - label: ckpt\n    test_failing_cache: {}\n"))
	require.NoError(t, b.AddInputYAML(threatsYAML(url, "feeds: [url_protect]\nbackfill_slice: 0s\ncheckpoint_cache: ckpt\n")))
	c := streamtest.NewCollector()
	require.NoError(t, b.AddConsumerFunc(c.Consume))
	_, stop := streamtest.RunBuilt(t, b)

	time.Sleep(1500 * time.Millisecond)
	during := len(c.Snapshot())
	assert.Positive(t, during)
	assert.LessOrEqual(t, during, 7*(4+1), "at most the pages in flight when the first save failed")
	cache.Down.Store(false)
	msgs := c.WaitFor(t, 15*time.Second, func(m []*service.Message) bool { return len(m) >= chaosEvents })
	msgs = streamtest.Settle(c)
	stop()
	assert.Len(t, msgs, chaosEvents)
	assert.Equal(t, chaosEvents, distinct(eventIDs(msgs)))
	var errs, back int
	for _, l := range obs.LogLines(slog.LevelInfo) {
		switch {
		case l.Level == "ERROR" && strings.Contains(l.Msg, "url_protect: saving the checkpoint failed: "):
			errs++
		case l.Level == "INFO" && strings.Contains(l.Msg, "url_protect: the checkpoint is written again after"):
			back++
		}
	}
	assert.Equal(t, 1, errs, "said once for the outage")
	assert.Equal(t, 1, back, "and once when it ended")
}

// Refused credentials are an ERROR naming what to check, said when they start and not on every
// retry, and polling goes on with back-off so that a fixed secret takes effect.
func TestThreatsRefusedCredentialsAreAnErrorWithBackOff(t *testing.T) {
	_, url := streamtest.FakeTenant(t, smallTenant())
	conn := strings.Replace(streamtest.ConnYAML(url), mimecastfake.DefaultClientSecret, "not-the-secret", 1)
	yaml := "mimecast_threats:\n" + streamtest.Indent(conn+"feeds: [url_protect]\npoll_interval: 50ms\nmax_retries: 0\n", "  ")
	c := streamtest.NewCollector()
	b, obs := streamtest.ObservedBuilder(t, streamtest.StreamSpec{Input: yaml}, c)
	mux := http.NewServeMux()
	b.SetHTTPMux(mux)
	_, stop := streamtest.RunBuilt(t, b)
	// The runner's lines start with the source; Benthos' report of the input's failure (once,
	// then once a minute while it lasts) holds the same reason.
	const reason = "url_protect: Mimecast refused the credentials"
	refused := func(match func(msg string) bool) int {
		n := 0
		for _, l := range obs.LogLines(slog.LevelError) {
			if l.Level == "ERROR" && match(l.Msg) && strings.Contains(l.Msg, "check client_id and client_secret") {
				n++
			}
		}
		return n
	}
	byRunner := func(msg string) bool { return strings.HasPrefix(msg, reason) }
	byBenthos := func(msg string) bool { return strings.Contains(msg, "every feed is refused: "+reason) }
	require.Eventually(t, func() bool { return refused(byRunner) > 0 }, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return refused(byBenthos) > 0 }, 5*time.Second, 20*time.Millisecond)
	ready := httptest.NewRecorder()
	mux.ServeHTTP(ready, httptest.NewRequest(http.MethodGet, "/ready", nil))
	assert.Equal(t, http.StatusServiceUnavailable, ready.Code, "not ready while every feed is refused")
	assert.Contains(t, ready.Body.String(), "Mimecast refused the credentials")
	time.Sleep(1500 * time.Millisecond) // several back-offs
	stop()
	assert.Equal(t, 1, refused(byRunner), "said once while it lasts (again only after failureRelog)")
	assert.Equal(t, 1, refused(byBenthos), "reported once, then once a minute")
	assert.Empty(t, c.Snapshot())
	assert.NotContains(t, obs.LogText(), "not-the-secret", "the secret is never logged")
	assert.NotContains(t, ready.Body.String(), "not-the-secret")
}

// readyStatus is the status /ready of the stream on mux answers.
func readyStatus(mux *http.ServeMux) (int, string) {
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ready", nil))
	return rec.Code, rec.Body.String()
}

// The input is not ready while every feed is refused and ready again as soon as one is not;
// a feed refused while another delivers leaves it ready.
func TestThreatsReadinessFollowsRefusals(t *testing.T) {
	cases := []struct {
		name     string
		products []string // granted to the client
		refuse   bool     // the token endpoint refuses the credentials until healed
		ready    bool     // before healing
	}{
		{"one of two feeds without its product", []string{mimecastfake.ProductURLProtect}, false, true},
		{"no product for any feed", []string{mimecastfake.ProductAccount}, false, false},
		{"credentials refused, then accepted", mimecastfake.AllProducts, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := smallTenant()
			opts.Clients = []mimecastfake.ClientApp{{ID: mimecastfake.DefaultClientID, Secret: mimecastfake.DefaultClientSecret, Products: tc.products}}
			fake := mimecastfake.New(opts)
			var healed atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.refuse && !healed.Load() && r.URL.Path == "/oauth/token" {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusUnauthorized)
					_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"InvalidClientIdentifier"}`))
					return
				}
				fake.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			yaml := "mimecast_threats:\n" + streamtest.Indent(streamtest.ConnYAML(srv.URL)+"feeds: [url_protect, attachment_protect]\npoll_interval: 50ms\nmax_retries: 0\n", "  ")
			c := streamtest.NewCollector()
			b, _ := streamtest.ObservedBuilder(t, streamtest.StreamSpec{Input: yaml}, c)
			mux := http.NewServeMux()
			b.SetHTTPMux(mux)
			_, stop := streamtest.RunBuilt(t, b)
			defer stop()
			if tc.ready {
				c.WaitFor(t, 10*time.Second, func(m []*service.Message) bool { return len(m) > 0 })
				code, body := readyStatus(mux)
				assert.Equal(t, http.StatusOK, code, body)
				return
			}
			// Not connected at once, and with the reason once Benthos asked the input to connect.
			require.Eventually(t, func() bool {
				code, body := readyStatus(mux)
				return code == http.StatusServiceUnavailable && strings.Contains(body, "every feed is refused")
			}, 10*time.Second, 20*time.Millisecond)
			_, body := readyStatus(mux)
			if !tc.refuse {
				assert.Contains(t, body, "Mimecast refused access")
				return
			}
			healed.Store(true)
			c.WaitFor(t, 10*time.Second, func(m []*service.Message) bool { return len(m) > 0 })
			require.Eventually(t, func() bool { code, _ := readyStatus(mux); return code == http.StatusOK }, 5*time.Second, 20*time.Millisecond, "ready again once the credentials are accepted")
		})
	}
}

// An api_url nothing answers at is an ERROR naming the fields to check, at the first failure.
func TestThreatsUnreachableAPIIsAnErrorNamingAPIURL(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	yaml := "mimecast_threats:\n" + streamtest.Indent(streamtest.ConnYAML(url)+"feeds: [url_protect]\nmax_retries: 0\n", "  ")
	_, stop, obs := streamtest.StartObserved(t, streamtest.StreamSpec{Input: yaml}, streamtest.NewCollector())
	defer stop()
	require.Eventually(t, func() bool {
		for _, l := range obs.LogLines(slog.LevelError) {
			if strings.HasPrefix(l.Msg, "url_protect: Mimecast cannot be reached") && strings.Contains(l.Msg, "check api_url") {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, obs.LogText())
}

func TestUnreachableTellsAMissingHostFromAPassingFault(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"name not found", fmt.Errorf("fetching: %w", &net.DNSError{Err: "no such host", Name: "mimecast.invalid", IsNotFound: true}), true},
		{"resolver timeout", &net.DNSError{Err: "i/o timeout", Name: "api.services.mimecast.com", IsTimeout: true}, false},
		{"connection refused", fmt.Errorf("calling: %w", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), true},
		{"reset", fmt.Errorf("calling: %w", syscall.ECONNRESET), false},
		{"server error", errors.New("HTTP 503"), false},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, unreachable(tc.err)) })
	}
}

// A batch file whose transfer is cut, or whose length lies, once is read again: every event
// arrives, none error-flagged as if the file were corrupt.
func TestThreatsSIEMFileCutInTransferIsReadAgainWhole(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   hostile.Misbehaviour
	}{
		{"cut half-way", hostile.Cut{}},
		{"cut inside the gzip header", hostile.Cut{At: func([]byte) int { return 5 }}},
		{"cut one byte before the end", hostile.Cut{At: func(b []byte) int { return len(b) - 1 }}},
		{"length that lies", hostile.LongerThanSent{Extra: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := hostile.Wrap(gzipLines(bigSIEMLine(1, 5000), bigSIEMLine(2, 5000), bigSIEMLine(3, 5000)),
				hostile.Rule{Match: hostile.Any, Times: 1, Do: tc.do})
			url := siemFilesServer(t, []string{"f.json.gz"}, map[string]http.HandlerFunc{"f.json.gz": file.ServeHTTP})
			c := streamtest.NewCollector()
			_, stop := streamtest.StartStream(t, streamtest.StreamSpec{Input: threatsYAML(url, siemAV+"max_retries: 0\n")}, c)
			c.WaitFor(t, 20*time.Second, func(m []*service.Message) bool { return len(m) >= 3 })
			msgs := streamtest.Settle(c)
			stop()
			require.Equal(t, 1, file.Applied(0))
			assert.Len(t, msgs, 3, "each event once")
			for _, m := range msgs {
				assert.NoError(t, m.GetError())
			}
		})
	}
}
