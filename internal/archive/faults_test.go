package archive

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/hostile"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

// The fault matrix of mimecast_archive, for the faults of the API calls a crawl makes
// (directory, archive search, message content): the crawl runs to end_date through the fault
// and must deliver every message the fake holds for the mailboxes in scope, each once, with its
// content. The fault must be counted, and each line it adds to the log must be one of the
// expected ones, at most once per faulty call.

type archiveFaultCase struct {
	name    string
	faults  mimecastfake.Faults
	atStart bool // else set once the first message (or after messages) reached the output
	after   int
	conn    string   // connection fields added to streamtest.FaultConn
	counted []string // counter keys (see observer.counter), or name|label summed over the other labels
	// logged are texts of which each must appear in at least one and at most `most` of the new
	// lines at INFO or above; every new line must match one of them.
	logged []streamtest.ExpectedLog
	most   int
}

func TestArchiveFaultMatrixDeliversEveryMessageOnceWithItsContent(t *testing.T) {
	retried := func(reason string) string { return "mimecast_api_retries|reason=" + reason }
	status := func(code string) string { return "mimecast_api_calls|status=" + code }
	rl := func(headers string) mimecastfake.Faults {
		return mimecastfake.Faults{RateLimitBurst: 3, RateLimitHeaders: headers, RateLimitResetMs: 100}
	}
	cases := []archiveFaultCase{
		{name: "429 burst with X-RateLimit-Reset", faults: rl(mimecastfake.RateLimitHeadersReset), most: 3,
			counted: []string{"mimecast_api_rate_limited", retried("rate_limited")},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelInfo, Text: "answered after"}}},
		{name: "429 burst with Retry-After", faults: rl(mimecastfake.RateLimitHeadersRetryAfter), most: 3,
			counted: []string{"mimecast_api_rate_limited", retried("rate_limited")},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelInfo, Text: "answered after"}}},
		{name: "429 burst with neither header", faults: rl(mimecastfake.RateLimitHeadersNone), most: 3,
			counted: []string{"mimecast_api_rate_limited", retried("rate_limited")},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelInfo, Text: "answered after"}}},
		{name: "5xx burst", faults: mimecastfake.Faults{ServerErrors: 3}, most: 3,
			counted: []string{retried("http_500")},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "answered after"}}},
		{name: "5xx for longer than the retries last", conn: "max_retries: 1\n", most: 6,
			faults:  mimecastfake.Faults{ServerErrorFor: 1500 * time.Millisecond},
			counted: []string{status("503"), "mimecast_archive_fetch_errors"},
			// Per mailbox whose search failed, once per crawl; the crawl says it goes again.
			logged: []streamtest.ExpectedLog{
				{Level: slog.LevelWarn, Text: "searching the archive failed, trying again in the next crawl: mimecast /api/archive/search: HTTP 503"},
				// A mailbox whose search got through but whose content fetch did not.
				{Level: slog.LevelWarn, Text: "failed, trying again in the next crawl: "},
				{Level: slog.LevelWarn, Text: "some mailboxes were not crawled completely; crawling them again in"},
				{Level: slog.LevelError, Text: "crawling the archive: listing internal domains: mimecast /api/domain/get-internal-domain: HTTP 503"},
				{Level: slog.LevelWarn, Text: "answered after"},
			}},
		{name: "401 token expired mid-run", faults: mimecastfake.Faults{ExpireTokens: 1}, most: 1,
			counted: []string{status("401")},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelInfo, Text: "the access token was refused (token_expired)"}}},
		{name: "token endpoint down when the token expires", faults: mimecastfake.Faults{ExpireTokens: 1, TokenEndpointDown: 3}, most: 1,
			counted: []string{"mimecast_api_calls{endpoint=/oauth/token,status=503}", retried("token_http_503")},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "token_http_503"}}},
		{name: "slow responses past timeout", conn: "timeout: 1s\n", faults: mimecastfake.Faults{SlowResponses: 2, SlowBy: 3 * time.Second}, most: 2,
			counted: []string{retried("timeout")},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "(timeout x"}}},
		{name: "HTML error page from a proxy", faults: mimecastfake.Faults{HTMLErrorPages: 2}, most: 2,
			counted: []string{retried("http_502")},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "(http_502 x"}}},
		{name: "connection reset mid-body", faults: mimecastfake.Faults{ResetMidBody: 2}, most: 2,
			counted: []string{"mimecast_api_retries"},
			// A buffered answer is retried whole; a streamed one (the content) resumes.
			logged: []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "(network x"}, {Level: slog.LevelWarn, Text: "the answer broke off after"}}},
		{name: "fail[] with HTTP 200", faults: mimecastfake.Faults{FailWith200: 1}, most: 1,
			counted: []string{"mimecast_archive_fetch_errors"},
			logged: []streamtest.ExpectedLog{
				{Level: slog.LevelWarn, Text: "err_unexpected_failure"},
				{Level: slog.LevelWarn, Text: "some mailboxes were not crawled completely; crawling them again in"},
			}},
		{name: "same message on two pages", conn: "page_size: 3\n", faults: mimecastfake.Faults{DuplicateAcrossPages: 2},
			counted: []string{"mimecast_archive_duplicates"}},
		{name: "unordered pages repeating a message", conn: "page_size: 3\n", atStart: true,
			faults:  mimecastfake.Faults{ListOrder: mimecastfake.ListOrderShuffled, DuplicateAcrossPages: 3},
			counted: []string{"mimecast_archive_duplicates"}},
		// Deep in a mailbox's window, so that its first pages are long past when it is read again.
		{name: "page token refused mid-window", conn: "page_size: 2\n", after: 5, faults: mimecastfake.Faults{RefusePageTokens: 1}, most: 1,
			counted: []string{"mimecast_archive_duplicates"},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "page token rejected (mimecast /api/archive/search: HTTP 400 err_invalid_page_token"}}},
		{name: "pagination cycle", conn: "page_size: 3\n", faults: mimecastfake.Faults{PageCycles: 1}, most: 1,
			counted: []string{"mimecast_archive_pagination_cycles"},
			logged: []streamtest.ExpectedLog{
				{Level: slog.LevelError, Text: "pagination cycle: the next page token"},
				{Level: slog.LevelWarn, Text: "some mailboxes were not crawled completely; crawling them again in"},
			}},
		{name: "transient 401s", faults: mimecastfake.Faults{UnverifiedTokens: 3}, most: 3,
			counted: []string{status("401")},
			logged: []streamtest.ExpectedLog{
				{Level: slog.LevelInfo, Text: "the access token was refused (token_verification_failed)"},
				{Level: slog.LevelInfo, Text: "the access token was refused (Unauthorized Request)"},
				{Level: slog.LevelWarn, Text: "(http_401_transient x"},
			}},
		{name: "503 HTML page", faults: mimecastfake.Faults{HTMLErrorPages: 2, HTMLErrorStatus: 503}, most: 2,
			counted: []string{retried("http_503")},
			logged:  []streamtest.ExpectedLog{{Level: slog.LevelWarn, Text: "(http_503 x"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // the cases wait on backoffs and polls more than they compute
			opts := smallArchive()
			if tc.atStart {
				opts.Faults = tc.faults
			}
			fake, url := streamtest.FakeTenant(t, opts)
			c := streamtest.NewCollector()
			if !tc.atStart {
				var (
					once sync.Once
					seen atomic.Int32
				)
				c.Reject = func(*service.Message) bool {
					if int(seen.Add(1)) > tc.after {
						once.Do(func() { fake.SetFaults(tc.faults) })
					}
					return false
				}
			}
			in := archiveInputYAML(url, streamtest.FaultConn+tc.conn+archUntilNow()+"mailbox_concurrency: 1\nrequest_concurrency: 1\n")
			obs := streamtest.RunObservedToEnd(t, streamtest.StreamSpec{Input: in}, c, 30*time.Second)

			emails := archEmails(c.Snapshot())
			assert.ElementsMatch(t, archAllIDs(fake, ordinaryDomain), archIDs(emails), "every message in scope, once")
			for _, m := range emails {
				assert.NoError(t, m.GetError())
				assert.True(t, decodeEmail(t, m).ContentAvailable, "with its content")
			}
			for _, key := range tc.counted {
				n := obs.Counter(key)
				if name, label, ok := strings.Cut(key, "|"); ok {
					n = obs.CounterWith(name, label)
				}
				assert.Positive(t, n, "counter %s; have %v", key, obs.CounterKeys())
			}
			added := archNewLogLines(obs)
			t.Logf("logged: %q", added)
			used := make([]bool, len(added))
			for _, e := range tc.logged {
				n := 0
				for i, l := range added {
					if l.Level == e.Level.String() && strings.Contains(l.Msg, e.Text) {
						used[i] = true
						n++
					}
				}
				assert.LessOrEqual(t, n, tc.most, "lines at %s containing %q", e.Level, e.Text)
			}
			for i, l := range added {
				assert.True(t, used[i], "unexpected log line %s %q", l.Level, l.Msg)
			}
			if len(tc.logged) > 0 {
				assert.NotEmpty(t, added, "the fault is logged")
			}
		})
	}
}

// archNewLogLines are the lines at INFO or above of a crawl that a fault-free crawl does not
// log (those are about the crawl's progress and its end).
func archNewLogLines(obs *streamtest.Observer) []streamtest.LogLine {
	var out []streamtest.LogLine
	for _, l := range obs.LogLines(slog.LevelInfo) {
		switch {
		case strings.HasPrefix(l.Msg, "Sending inproc messages to ID"),
			strings.HasPrefix(l.Msg, "Input type mimecast_archive is now active"),
			strings.HasPrefix(l.Msg, "Output type inproc is now active"),
			strings.HasPrefix(l.Msg, "no checkpoint_cache"),
			strings.HasPrefix(l.Msg, "archive "),
			strings.HasPrefix(l.Msg, "every mailbox was crawled up to end_date"):
			continue
		}
		out = append(out, l)
	}
	return out
}

func TestArchiveFaultMatrixBaselineLogsOnlyTheCrawl(t *testing.T) {
	_, url := streamtest.FakeTenant(t, smallArchive())
	c := streamtest.NewCollector()
	obs := streamtest.RunObservedToEnd(t, streamtest.StreamSpec{Input: archiveInputYAML(url, streamtest.FaultConn+archUntilNow())}, c, 30*time.Second)
	require.NotEmpty(t, archEmails(c.Snapshot()))
	assert.Empty(t, archNewLogLines(obs), "the filter of archNewLogLines leaves nothing of a fault-free crawl")
}

// cutPartBodies cuts the first n answers of get-message-part half-way through their body (with
// the full Content-Length), as a proxy resetting a long download would: the fake's ResetMidBody
// cannot be aimed at the content endpoint.
func cutPartBodies(n int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return hostile.Wrap(next, hostile.Rule{Match: hostile.Path("/api/archive/get-message-part"), Times: n, Do: hostile.Cut{}})
	}
}

func TestArchiveContentCutMidBodyIsResumedNotFlagged(t *testing.T) {
	fake, url := archTenant(t, smallArchive(), cutPartBodies(3))
	c := streamtest.NewCollector()
	obs := streamtest.RunObservedToEnd(t, streamtest.StreamSpec{Input: archiveInputYAML(url, streamtest.FaultConn+archUntilNow())}, c, 30*time.Second)
	emails := archEmails(c.Snapshot())
	assert.ElementsMatch(t, archAllIDs(fake, ordinaryDomain), archIDs(emails), "every message in scope, once")
	for _, m := range emails {
		require.NoError(t, m.GetError())
		assert.True(t, decodeEmail(t, m).ContentAvailable)
	}
	assert.Equal(t, int64(3), obs.CounterWith("mimecast_api_retries", "reason=network"))
	added := archNewLogLines(obs)
	require.Len(t, added, 3, "one line per resumed answer: %q", added)
	for _, l := range added {
		assert.Equal(t, "WARN", l.Level)
		assert.Contains(t, l.Msg, "mimecast /api/archive/get-message-part: the answer broke off after ")
	}
}

// archFlakyCache is the cache of TestArchiveStopsCrawlingWhileTheCheckpointCannotBeWritten,
// registered once, globally, as test_flaky_cache (the archive harness builds streams in the
// global environment).
var (
	archFlakyCache    = streamtest.NewFlakyCache()
	archFlakyRegister sync.Once
)

// While checkpoints cannot be written the crawl reads no further pages, says so once, and goes
// on when writes work again, delivering every message once.
func TestArchiveStopsCrawlingWhileTheCheckpointCannotBeWritten(t *testing.T) {
	archFlakyRegister.Do(func() {
		require.NoError(t, streamtest.RegisterFlakyCache(service.GlobalEnvironment(), "test_flaky_cache", archFlakyCache))
	})
	archFlakyCache.Down.Store(true)
	t.Cleanup(func() { archFlakyCache.Down.Store(false) })
	fake, url := streamtest.FakeTenant(t, smallArchive())
	in := archiveInputYAML(url, archUntilNow()+"checkpoint_cache: state\npage_size: 2\nmailbox_concurrency: 1\n")
	c := streamtest.NewCollector()
	stop := startArchive(t, archiveStream{input: in, resources: "cache_resources:\n  - label: state\n    test_flaky_cache: {}\n"}, c)
	time.Sleep(1500 * time.Millisecond)
	during := len(archEmails(c.Snapshot()))
	all := archAllIDs(fake, ordinaryDomain)
	assert.Less(t, during, len(all)/2, "the crawl held still while its checkpoints failed")
	archFlakyCache.Down.Store(false)
	c.WaitFor(t, 20*time.Second, func(m []*service.Message) bool { return len(archEmails(m)) >= len(all) })
	stop()
	assert.ElementsMatch(t, all, archIDs(archEmails(c.Snapshot())), "every message in scope, once")
}

// A transfer cut inside a header name is a transport error, not a malformed email: the email is
// fetched again in the next crawl and comes whole, never error-flagged. (The MIME reader once
// took the partial line for a header and the email was flagged for good.) With max_retries 0
// the client does not resume, so the cut reaches the parser.
func TestArchiveContentCutInsideAHeaderNameIsFetchedAgain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		marker string
		k      int
	}{
		{"inside a header name", "\r\nSubject:", 4},
		{"after a header's colon", "\r\nSubject:", 10},
		{"inside the header block's end", "\r\n\r\n", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var srv *hostile.Server
			fake, url := archTenant(t, smallArchive(), func(next http.Handler) http.Handler {
				srv = hostile.Wrap(next, hostile.Rule{Match: hostile.Path("/api/archive/get-message-part"), Times: 1, Do: hostile.Cut{At: hostile.Inside(tc.marker, tc.k)}})
				return srv
			})
			c := streamtest.NewCollector()
			in := archiveInputYAML(url, streamtest.FaultConn+archUntilNow()+"max_retries: 0\nmailbox_concurrency: 1\nrequest_concurrency: 1\n")
			streamtest.RunObservedToEnd(t, streamtest.StreamSpec{Input: in}, c, 30*time.Second)
			require.Equal(t, 1, srv.Applied(0), "one transfer was cut")
			emails := archEmails(c.Snapshot())
			assert.ElementsMatch(t, archAllIDs(fake, ordinaryDomain), archIDs(emails), "every message in scope, once")
			for _, m := range emails {
				require.NoError(t, m.GetError())
				assert.True(t, decodeEmail(t, m).ContentAvailable)
			}
		})
	}
}
