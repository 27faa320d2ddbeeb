package threats

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

// The fault matrix of mimecast_threats: each fault of the fake tenant is injected into
// a run, and what reached the output is compared with a fault-free run of the same input: the
// same event ids, each exactly once. The fault must show in the metrics, and the log must say
// what happened once: the lines a run logs at INFO or above that a fault-free run does not are
// exactly the expected ones.

// faultAnchor is the tenants' "now": fixed for the test binary, so that a fault run and the
// fault-free run it is compared with serve the same records (their times are part of their ids).
var faultAnchor = time.Now().UTC().Truncate(time.Minute)

// faultWindowTenant has 40 URL Protect clicks: 8 pages of 5, read one page ahead at most, so a
// fault set after the first message meets the run in the middle of the backlog.
func faultWindowTenant() mimecastfake.Options {
	return mimecastfake.Options{Seed: 21, Anchor: faultAnchor, Sizes: mimecastfake.Sizes{EventsPerFeed: 40, Span: 10 * time.Hour}}
}

// faultSIEMTenant has 300 av events in three batch files of 100.
func faultSIEMTenant() mimecastfake.Options {
	return mimecastfake.Options{Seed: 23, Anchor: faultAnchor, Sizes: mimecastfake.Sizes{EventsPerFeed: 300, SIEMEventsPerFile: 100, Span: 10 * time.Hour}}
}

const (
	// One window, one walk, so that the calls (and what the client logs of them) come in one
	// sequence; the chaos tests run the faults against backlogs read in slices at once.
	faultWindowInput = "feeds: [url_protect]\nlookback: 24h\npage_size: 5\nmax_pages_in_flight: 1\nbackfill_slice: 0s\n"
	faultSIEMInput   = "feeds: [siem]\nlookback: 24h\nsiem_event_types: [av]\nmax_pages_in_flight: 1\n"
)

type threatsFaultCase struct {
	name   string
	siem   bool // run the SIEM input and tenant, else URL Protect
	faults mimecastfake.Faults
	// atStart injects the faults before the stream starts; otherwise they are set once the first
	// message reached the output, in the middle of the backlog.
	atStart bool
	conn    string // connection fields added to streamtest.FaultConn
	// errorMessages is how many error-flagged messages (undecodable records) the fault adds to
	// the output, besides every event of the fault-free run.
	errorMessages int
	counted       []string // counters that must be positive (see observer.counter)
	// logged are the lines the fault adds to the log at INFO or above, each exactly once and
	// nothing else; optional ones may appear once (a retry the timing decides).
	logged   []streamtest.ExpectedLog
	optional []streamtest.ExpectedLog
	// debugged is text that must appear in a DEBUG line: where repeats of a fault go.
	debugged string
	fired    func(f mimecastfake.Faults) bool // whether the fault's counter ran down
}

func TestThreatsFaultMatrixLosesNothingAndEmitsNoDuplicates(t *testing.T) {
	rl := func(headers string) mimecastfake.Faults {
		return mimecastfake.Faults{RateLimitBurst: 3, RateLimitHeaders: headers, RateLimitResetMs: 100}
	}
	rlFired := func(f mimecastfake.Faults) bool { return f.RateLimitBurst == 0 }
	cases := []threatsFaultCase{
		{
			name: "429 burst with X-RateLimit-Reset", faults: rl(mimecastfake.RateLimitHeadersReset), fired: rlFired,
			counted: []string{"mimecast_api_rate_limited", "mimecast_api_retries{endpoint=/api/ttp/url/get-logs,reason=rate_limited}"},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelInfo, Text: "mimecast /api/ttp/url/get-logs: answered after 3 retries (rate_limited x3)"}},
		},
		{
			name: "429 burst with Retry-After", faults: rl(mimecastfake.RateLimitHeadersRetryAfter), fired: rlFired,
			counted: []string{"mimecast_api_rate_limited", "mimecast_api_retries{endpoint=/api/ttp/url/get-logs,reason=rate_limited}"},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelInfo, Text: "mimecast /api/ttp/url/get-logs: answered after 3 retries (rate_limited x3)"}},
		},
		{
			name: "429 burst with both headers", faults: rl(mimecastfake.RateLimitHeadersBoth), fired: rlFired,
			counted: []string{"mimecast_api_rate_limited", "mimecast_api_retries{endpoint=/api/ttp/url/get-logs,reason=rate_limited}"},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelInfo, Text: "mimecast /api/ttp/url/get-logs: answered after 3 retries (rate_limited x3)"}},
		},
		{
			name: "429 burst with neither header", faults: rl(mimecastfake.RateLimitHeadersNone), fired: rlFired,
			counted: []string{"mimecast_api_rate_limited", "mimecast_api_retries{endpoint=/api/ttp/url/get-logs,reason=rate_limited}"},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelInfo, Text: "mimecast /api/ttp/url/get-logs: answered after 3 retries (rate_limited x3)"}},
		},
		{
			name: "429 storm longer than max_retries", conn: "max_retries: 2\n",
			faults: mimecastfake.Faults{RateLimitBurst: 4, RateLimitResetMs: 100}, fired: rlFired,
			counted: []string{"mimecast_api_rate_limited", "mimecast_threats_fetch_errors{feed=url_protect}"},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "url_protect: polling failed, retrying in 1s: fetching url protect logs: mimecast /api/ttp/url/get-logs: HTTP 429 rate_limit_exceeded"}, {Level: slog.LevelInfo, Text: "mimecast /api/ttp/url/get-logs: answered after 1 retry (rate_limited x1)"}, {Level: slog.LevelInfo, Text: "url_protect: polling works again after 1 failed poll"}},
		},
		{
			// Three or so failed polls: one warning when it starts, one line when it ends.
			name: "5xx for a while", conn: "max_retries: 1\n", faults: mimecastfake.Faults{ServerErrorFor: 2500 * time.Millisecond},
			debugged: "url_protect: polling failed again (2 tries)",
			counted:  []string{"mimecast_api_calls{endpoint=/api/ttp/url/get-logs,status=503}", "mimecast_api_retries{endpoint=/api/ttp/url/get-logs,reason=http_503}", "mimecast_threats_fetch_errors{feed=url_protect}"},
			logged:   []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "url_protect: polling failed, retrying in 1s: fetching url protect logs: mimecast /api/ttp/url/get-logs: HTTP 503 service_unavailable"}, {Level: slog.LevelInfo, Text: "url_protect: polling works again after"}},
			optional: []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "mimecast /api/ttp/url/get-logs: answered after"}},
		},
		{
			name: "5xx burst", faults: mimecastfake.Faults{ServerErrors: 3},
			fired:   func(f mimecastfake.Faults) bool { return f.ServerErrors == 0 },
			counted: []string{"mimecast_api_retries{endpoint=/api/ttp/url/get-logs,reason=http_500}"},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "mimecast /api/ttp/url/get-logs: answered after 3 retries (http_500 x3)"}},
		},
		{
			name: "401 token expired mid-page", faults: mimecastfake.Faults{ExpireTokens: 1},
			fired:   func(f mimecastfake.Faults) bool { return f.ExpireTokens == 0 },
			counted: []string{"mimecast_api_calls{endpoint=/api/ttp/url/get-logs,status=401}"},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelInfo, Text: "mimecast /api/ttp/url/get-logs: the access token was refused (token_expired) before its expiry; repeated the call with a new token"}},
		},
		{
			name: "token endpoint down at start", atStart: true, faults: mimecastfake.Faults{TokenEndpointDown: 3},
			fired:   func(f mimecastfake.Faults) bool { return f.TokenEndpointDown == 0 },
			counted: []string{"mimecast_api_calls{endpoint=/oauth/token,status=503}", "mimecast_api_retries{endpoint=/api/ttp/url/get-logs,reason=token_http_503}"},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "mimecast /api/ttp/url/get-logs: answered after 3 retries (token_http_503 x3)"}},
		},
		{
			name: "token endpoint down when the token expires", faults: mimecastfake.Faults{ExpireTokens: 1, TokenEndpointDown: 3},
			fired:   func(f mimecastfake.Faults) bool { return f.ExpireTokens == 0 && f.TokenEndpointDown == 0 },
			counted: []string{"mimecast_api_calls{endpoint=/oauth/token,status=503}", "mimecast_api_calls{endpoint=/api/ttp/url/get-logs,status=401}"},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "mimecast /api/ttp/url/get-logs: answered after 3 retries (token_http_503 x3)"}},
		},
		{
			name: "slow responses past timeout", conn: "timeout: 1s\n",
			faults:  mimecastfake.Faults{SlowResponses: 2, SlowBy: 3 * time.Second},
			fired:   func(f mimecastfake.Faults) bool { return f.SlowResponses == 0 },
			counted: []string{"mimecast_api_calls{endpoint=/api/ttp/url/get-logs,status=error}", "mimecast_api_retries{endpoint=/api/ttp/url/get-logs,reason=timeout}"},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "mimecast /api/ttp/url/get-logs: answered after 2 retries (timeout x2)"}},
		},
		{
			name: "HTML error page from a proxy", faults: mimecastfake.Faults{HTMLErrorPages: 2},
			fired:   func(f mimecastfake.Faults) bool { return f.HTMLErrorPages == 0 },
			counted: []string{"mimecast_api_retries{endpoint=/api/ttp/url/get-logs,reason=http_502}"},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "mimecast /api/ttp/url/get-logs: answered after 2 retries (http_502 x2)"}},
		},
		{
			name: "fail[] with HTTP 200", faults: mimecastfake.Faults{FailWith200: 1},
			fired:   func(f mimecastfake.Faults) bool { return f.FailWith200 == 0 },
			counted: []string{"mimecast_threats_fetch_errors{feed=url_protect}"},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "url_protect: reading the next page failed (fetching url protect logs: mimecast /api/ttp/url/get-logs: HTTP 200 err_unexpected_failure: The request could not be processed at this time (x-request-id fake-"}},
		},
		{
			name: "connection reset mid-body", faults: mimecastfake.Faults{ResetMidBody: 2},
			fired:   func(f mimecastfake.Faults) bool { return f.ResetMidBody == 0 },
			counted: []string{"mimecast_api_calls{endpoint=/api/ttp/url/get-logs,status=error}", "mimecast_api_retries{endpoint=/api/ttp/url/get-logs,reason=network}"},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "mimecast /api/ttp/url/get-logs: answered after 2 retries (network x2)"}},
		},
		{
			name: "same event on two pages", faults: mimecastfake.Faults{DuplicateAcrossPages: 3},
			fired:   func(f mimecastfake.Faults) bool { return f.DuplicateAcrossPages == 0 },
			counted: []string{"mimecast_threats_duplicates{feed=url_protect}"},
			logged:  []streamtest.ExpectedLog{},
		},
		{
			name: "truncated gzip", siem: true, atStart: true, faults: mimecastfake.Faults{TruncatedGzip: 1},
			fired:   func(f mimecastfake.Faults) bool { return f.TruncatedGzip == 0 },
			counted: []string{"mimecast_threats_fetch_errors{feed=siem}"},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "siem_av: batch file /siem-files/"}, {Level: slog.LevelWarn, Text: "listing the page again for fresh URLs (attempt 2 of 3)"}},
		},
		{
			name: "malformed JSON line", siem: true, atStart: true, faults: mimecastfake.Faults{MalformedLines: 1},
			fired:         func(f mimecastfake.Faults) bool { return f.MalformedLines == 0 },
			errorMessages: 1,
			counted:       []string{"mimecast_threats_decode_errors{feed=siem}"},
			logged:        []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "siem_av: emitting an undecodable record as an error-flagged message: decoding record:"}},
		},
		{
			name: "expired download URL", siem: true, atStart: true, faults: mimecastfake.Faults{ExpiredURLs: 1},
			fired:   func(f mimecastfake.Faults) bool { return f.ExpiredURLs == 0 },
			counted: []string{"mimecast_api_calls{endpoint=siem_batch_file,status=403}", "mimecast_threats_fetch_errors{feed=siem}"},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "siem batch file URL expired: mimecast siem_batch_file: HTTP 403: the pre-signed URL has expired or the file is gone"}, {Level: slog.LevelWarn, Text: "listing the page again for fresh URLs (attempt 2 of 3)"}},
		},
		{
			name: "same URL twice", siem: true, atStart: true, faults: mimecastfake.Faults{DuplicateURLs: 1},
			fired:   func(f mimecastfake.Faults) bool { return f.DuplicateURLs == 0 },
			counted: []string{"mimecast_threats_duplicates{feed=siem}"},
			logged:  []streamtest.ExpectedLog{},
		},
	}

	baselines := map[bool]*faultRun{}
	var baseMu sync.Mutex
	baseline := func(t *testing.T, siem bool) *faultRun {
		baseMu.Lock()
		defer baseMu.Unlock()
		if b, ok := baselines[siem]; ok {
			return b
		}
		b := runThreatsFault(t, threatsFaultCase{siem: siem}, nil)
		require.NotEmpty(t, b.ids)
		baselines[siem] = b
		return b
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // the cases wait on backoffs and polls more than they compute
			base := baseline(t, tc.siem)
			run := runThreatsFault(t, tc, base)

			assert.Equal(t, base.ids, run.ids, "every event of the fault-free run, each once")
			assert.Len(t, run.errored, tc.errorMessages, "error-flagged messages")
			if tc.fired != nil { // an outage has no counter to run down: its 503s are counted below
				assert.True(t, tc.fired(run.faultsLeft), "the fault fired: %+v", run.faultsLeft)
			}
			for _, key := range tc.counted {
				assert.Positive(t, run.obs.Counter(key), "counter %s; have %v", key, run.obs.CounterKeys())
			}
			streamtest.AssertLoggedOnce(t, streamtest.NewLogLines(base.obs, run.obs), tc.logged, tc.optional)
			if tc.debugged != "" {
				assert.True(t, slices.ContainsFunc(run.obs.LogLines(slog.LevelDebug), func(l streamtest.LogLine) bool {
					return l.Level == "DEBUG" && strings.Contains(l.Msg, tc.debugged)
				}), "a DEBUG line containing %q", tc.debugged)
			}
		})
	}
}

// faultRun is what one run of the matrix delivered.
type faultRun struct {
	ids        []string // event ids of the good messages, sorted
	errored    []*service.Message
	obs        *streamtest.Observer
	faultsLeft mimecastfake.Faults
}

// runThreatsFault runs tc until it delivered at least what base delivered (or, for the
// baseline itself, until the backlog is read) and the input went quiet.
func runThreatsFault(t *testing.T, tc threatsFaultCase, base *faultRun) *faultRun {
	t.Helper()
	opts, in := faultWindowTenant(), faultWindowInput
	if tc.siem {
		opts, in = faultSIEMTenant(), faultSIEMInput
	}
	if tc.atStart {
		opts.Faults = tc.faults
	}
	fake, url := streamtest.FakeTenant(t, opts)
	c := streamtest.NewCollector()
	if !tc.atStart && base != nil {
		// The collector's reject hook sees each message before it is accepted: the first one
		// switches the faults on while later pages are still to be read.
		var once sync.Once
		c.Reject = func(*service.Message) bool {
			once.Do(func() { fake.SetFaults(tc.faults) })
			return false
		}
	}
	yaml := "mimecast_threats:\n" + streamtest.Indent(streamtest.ConnYAML(url)+streamtest.FaultConn+tc.conn+"poll_interval: 100ms\n"+in, "  ")
	_, stop, obs := streamtest.StartObserved(t, streamtest.StreamSpec{Input: yaml}, c)
	want := 40
	if tc.siem {
		want = 300
	}
	c.WaitFor(t, 20*time.Second, func(msgs []*service.Message) bool {
		return len(goodMessages(msgs)) >= want
	})
	msgs := streamtest.Settle(c)
	stop()
	run := &faultRun{obs: obs, faultsLeft: fake.Faults()}
	for _, m := range msgs {
		if m.GetError() != nil {
			run.errored = append(run.errored, m)
			continue
		}
		run.ids = append(run.ids, meta(m, metaEventID))
	}
	slices.Sort(run.ids)
	return run
}
