package mimecastfake

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batchListing is the batch listing shape integrators' clients read, decoded by the test on its own terms.
type batchListing struct {
	Value []struct {
		URL    string `json:"url"`
		Expiry string `json:"expiry"`
		Size   int    `json:"size"`
	} `json:"value"`
	NextPage   *string `json:"@nextPage"`
	IsCaughtUp *bool   `json:"isCaughtUp"`
}

func listBatch(t *testing.T, h *tenantHarness, q url.Values) batchListing {
	t.Helper()
	resp, raw := h.get("/siem/v1/batch/events/cg", q, true)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	var l batchListing
	require.NoError(t, json.Unmarshal(raw, &l))
	require.NotNil(t, l.NextPage, "@nextPage is always present")
	require.NotNil(t, l.IsCaughtUp)
	return l
}

// downloadBatch fetches a pre-signed URL without the bearer token and decodes its NDJSON.
func downloadBatch(t *testing.T, h *tenantHarness, u string) []map[string]any {
	t.Helper()
	resp, raw := h.get(u, nil, false)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(string(plain), "\n"), "\n") {
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		var e map[string]any
		require.NoError(t, dec.Decode(&e), line)
		out = append(out, e)
	}
	return out
}

// crawlBatch follows @nextPage until isCaughtUp and returns every event of every listed file.
func crawlBatch(t *testing.T, h *tenantHarness, q url.Values) ([]map[string]any, string) {
	t.Helper()
	var events []map[string]any
	for range 1000 {
		l := listBatch(t, h, q)
		for _, v := range l.Value {
			events = append(events, downloadBatch(t, h, v.URL)...)
		}
		q.Set("nextPage", *l.NextPage)
		if *l.IsCaughtUp {
			return events, *l.NextPage
		}
	}
	t.Fatal("batch listing never caught up")
	return nil, ""
}

func offsets(t *testing.T, events []map[string]any) []int {
	t.Helper()
	out := make([]int, len(events))
	for i, e := range events {
		n, err := e["_offset"].(json.Number).Int64()
		require.NoError(t, err)
		out[i] = int(n)
	}
	return out
}

func TestBatchListingHasTheNotesShape(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1})
	resp, raw := h.get("/siem/v1/batch/events/cg", url.Values{"type": {"receipt"}, "pageSize": {"100"}}, true)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"))
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.ElementsMatch(t, []string{"value", "@nextPage", "isCaughtUp"}, keysOf(m))
	v := m["value"].([]any)
	require.Len(t, v, 1)
	entry := v[0].(map[string]any)
	assert.ElementsMatch(t, []string{"url", "expiry", "size"}, keysOf(entry))
	exp, err := time.Parse("2006-01-02T15:04:05.000Z", entry["expiry"].(string))
	require.NoError(t, err)
	assert.Equal(t, harnessAnchor.Add(15*time.Minute), exp)
	assert.Contains(t, entry["url"], "X-Amz-Signature=")
	assert.Contains(t, entry["url"], ".json.gz?")
	assert.Equal(t, true, m["isCaughtUp"])
}

func TestBatchPagingCoversEveryEventOnce(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 2, Sizes: Sizes{EventsPerFeed: 50, SIEMEventsPerFile: 7}})
	q := url.Values{"type": {"url protect"}, "pageSize": {"3"}}
	pages := 0
	var events []map[string]any
	for {
		l := listBatch(t, h, q)
		pages++
		assert.LessOrEqual(t, len(l.Value), 3)
		for _, v := range l.Value {
			events = append(events, downloadBatch(t, h, v.URL)...)
		}
		q.Set("nextPage", *l.NextPage)
		if *l.IsCaughtUp {
			break
		}
	}
	assert.Equal(t, 3, pages, "8 files in pages of 3")
	got := offsets(t, events)
	want := make([]int, 50)
	for i := range want {
		want[i] = i
	}
	assert.Equal(t, want, got)
	for _, e := range events {
		assert.Equal(t, "url protect", e["type"])
	}

	// Caught up: an empty page that still carries @nextPage.
	l := listBatch(t, h, q)
	assert.Empty(t, l.Value)
	assert.True(t, *l.IsCaughtUp)
	assert.NotEmpty(t, *l.NextPage)
}

func TestBatchWithoutTypeListsEveryType(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 2, Sizes: Sizes{EventsPerFeed: 20}})
	events, _ := crawlBatch(t, h, url.Values{"pageSize": {"4"}})
	perType := map[string]int{}
	for _, e := range events {
		perType[e["type"].(string)]++
	}
	assert.Len(t, perType, len(siemTypes))
	for typ, n := range perType {
		assert.Equal(t, 20, n, typ)
	}
}

func TestBatchTokenKeepsEachTypesPosition(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 2, Sizes: Sizes{EventsPerFeed: 30, SIEMEventsPerFile: 10}})
	l := listBatch(t, h, url.Values{"type": {"av"}, "pageSize": {"1"}})
	// Another type with av's token starts at its own beginning; av continues where it was.
	spam := listBatch(t, h, url.Values{"type": {"spam"}, "pageSize": {"1"}, "nextPage": {*l.NextPage}})
	assert.Equal(t, 0, offsets(t, downloadBatch(t, h, spam.Value[0].URL))[0])
	av := listBatch(t, h, url.Values{"type": {"av"}, "pageSize": {"1"}, "nextPage": {*spam.NextPage}})
	assert.Equal(t, 10, offsets(t, downloadBatch(t, h, av.Value[0].URL))[0])
}

func TestLiveBatchFilesAppearWhenTheirWindowCloses(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 3, Sizes: Sizes{EventsPerFeed: 5, LiveEventsPerHour: 40}})
	q := url.Values{"type": {"av"}}
	backlog, tok := crawlBatch(t, h, q)
	require.Len(t, backlog, 5)

	h.clock.Advance(14 * time.Minute)
	l := listBatch(t, h, url.Values{"type": {"av"}, "nextPage": {tok}})
	assert.Empty(t, l.Value, "a window is listed only once it has closed")
	assert.True(t, *l.IsCaughtUp)

	h.clock.Advance(time.Minute)
	l = listBatch(t, h, url.Values{"type": {"av"}, "nextPage": {tok}})
	require.Len(t, l.Value, 1)
	first := downloadBatch(t, h, l.Value[0].URL)
	assert.Len(t, first, 10, "40 an hour = 10 per 15 minutes")
	for _, e := range first {
		ts, _ := e["timestamp"].(json.Number).Int64()
		assert.Greater(t, ts, harnessAnchor.UnixMilli())
		assert.LessOrEqual(t, ts, harnessAnchor.Add(15*time.Minute).UnixMilli())
	}

	h.clock.Advance(31 * time.Minute)
	more, _ := crawlBatch(t, h, url.Values{"type": {"av"}, "nextPage": {*l.NextPage}})
	assert.Len(t, more, 20)
	assert.Equal(t, 15, offsets(t, more)[0], "live files continue right after the last one")
}

func TestLiveBatchFilesFollowTheConfiguredWindow(t *testing.T) {
	// 1,800 an hour with a 20 s window: 10 events per window, in two files of 5.
	h := newTenantHarness(t, Options{Seed: 3, Sizes: Sizes{EventsPerFeed: 5, LiveEventsPerHour: 1800,
		SIEMEventsPerFile: 5, SIEMBatchWindow: 20 * time.Second}})
	_, tok := crawlBatch(t, h, url.Values{"type": {"av"}})

	h.clock.Advance(19 * time.Second)
	l := listBatch(t, h, url.Values{"type": {"av"}, "nextPage": {tok}})
	assert.Empty(t, l.Value, "a window is listed only once it has closed")

	for w := 1; w <= 3; w++ {
		h.clock.Advance(time.Second)
		l = listBatch(t, h, url.Values{"type": {"av"}, "nextPage": {tok}})
		require.Len(t, l.Value, 2, "window %d", w)
		var events []map[string]any
		for _, f := range l.Value {
			events = append(events, downloadBatch(t, h, f.URL)...)
		}
		require.Len(t, events, 10, "window %d", w)
		assert.Equal(t, 5+10*(w-1), offsets(t, events)[0], "window %d continues after the last", w)
		for _, e := range events {
			ts, _ := e["timestamp"].(json.Number).Int64()
			assert.Greater(t, ts, harnessAnchor.Add(time.Duration(w-1)*20*time.Second).UnixMilli())
			assert.LessOrEqual(t, ts, harnessAnchor.Add(time.Duration(w)*20*time.Second).UnixMilli())
		}
		tok = *l.NextPage

		h.clock.Advance(19 * time.Second)
		l = listBatch(t, h, url.Values{"type": {"av"}, "nextPage": {tok}})
		assert.Empty(t, l.Value, "nothing new until window %d closes", w+1)
	}
}

func TestBatchWindowDefaultsToFifteenMinutes(t *testing.T) {
	assert.Equal(t, 15*time.Minute, Options{}.withDefaults().Sizes.SIEMBatchWindow)
	h := newTenantHarness(t, Options{Seed: 3})
	assert.Equal(t, (15 * time.Minute).Milliseconds(), h.srv.siemFeed().windowMs)
}

func TestBatchDateRangeSelectsWholeDays(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 4, Sizes: Sizes{EventsPerFeed: 300, SIEMEventsPerFile: 40}})
	day := time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)
	events, _ := crawlBatch(t, h, url.Values{"type": {"delivery"}, "dateRangeStartsAt": {"2026-03-08"}, "dateRangeEndsAt": {"2026-03-08"}})
	f := h.srv.siemFeed()
	want := 0
	for i := range 300 {
		if ts := f.eventTime(siemTypeIndex("delivery"), i); ts >= day.UnixMilli() && ts < day.Add(24*time.Hour).UnixMilli() {
			want++
		}
	}
	require.NotZero(t, want)
	assert.Len(t, events, want)
	for _, e := range events {
		ts, _ := e["timestamp"].(json.Number).Int64()
		assert.Equal(t, day, time.UnixMilli(ts).UTC().Truncate(24*time.Hour))
	}
}

func TestBatchRejectsBadParametersWithTheSIEMErrorShape(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 4})
	for name, q := range map[string]url.Values{
		"date format":  {"type": {"av"}, "dateRangeStartsAt": {"2026-03-08T00:00:00Z"}},
		"end format":   {"type": {"av"}, "dateRangeEndsAt": {"08/03/2026"}},
		"end < start":  {"type": {"av"}, "dateRangeStartsAt": {"2026-03-08"}, "dateRangeEndsAt": {"2026-03-07"}},
		"unknown type": {"type": {"phishing"}},
		"page size":    {"type": {"av"}, "pageSize": {"101"}},
		"token":        {"type": {"av"}, "nextPage": {"bm9wZQ=="}},
	} {
		resp, raw := h.get("/siem/v1/batch/events/cg", q, true)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, name)
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal(raw, &e), name)
		assert.Equal(t, "Request Validation Failed", e.Error.Code, name)
		assert.NotEmpty(t, e.Error.Message, name)
	}
}

// siemTypeFields are the per-type fields (as in Elastic's SIEM samples) that every generated event carries.
var siemTypeFields = map[string][]string{
	"receipt":                {"messageId", "senderEnvelope", "senderHeader", "senderIp", "recipients", "subject", "direction", "action", "spamScore", "spamProcessingDetail", "tlsVersion", "numberAttachments"},
	"process":                {"messageId", "senderEnvelope", "subject", "action", "holdReason", "attachments", "numberAttachments", "totalSizeAttachments", "emailSize"},
	"delivery":               {"messageId", "senderEnvelope", "recipients", "subject", "delivered", "deliveryAttempts", "deliveryTime", "destinationIp", "direction", "route", "tlsUsed", "emailSize", "Hostname"},
	"av":                     {"messageId", "senderEnvelope", "senderIp", "senderDomain", "recipients", "subject", "route", "fileName", "fileExtension", "md5", "sha1", "sha256", "virusFound"},
	"spam":                   {"messageId", "senderEnvelope", "senderHeader", "senderIp", "senderDomain", "recipients", "subject", "route"},
	"internal email protect": {"messageId", "senderEnvelope", "recipients", "subject", "route", "scanResults", "urlCategory"},
	"impersonation protect":  {"messageId", "senderEnvelope", "senderIp", "recipients", "subject", "route", "action", "policyDefinition", "taggedMalicious", "newDomain", "internalUserName", "replyMismatch"},
	"url protect":            {"messageId", "senderEnvelope", "recipients", "subject", "route", "url", "urlCategory", "action"},
	"attachment protect":     {"messageId", "senderEnvelope", "recipients", "subject", "fileName", "fileExtension", "fileMime", "sizeAttachment", "sha256"},
	"journal":                {"senderEnvelope", "recipients", "subject", "direction"},
}

var siemMessageIDPattern = regexp.MustCompile(`^<[0-9a-f]{16}\.(\d+)\.(\d+)@mail\.fake-mimecast\.test>$`)

func TestBatchEventsCarryTheNotesFields(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 5, Sizes: Sizes{EventsPerFeed: 40}})
	for typ, fields := range siemTypeFields {
		events, _ := crawlBatch(t, h, url.Values{"type": {typ}})
		require.Len(t, events, 40, typ)
		for _, e := range events {
			for _, k := range []string{"accountId", "aggregateId", "processingId", "timestamp", "type", "subtype", "_offset", "_partition"} {
				assert.Contains(t, e, k, typ)
			}
			assert.Equal(t, typ, e["type"])
			assert.Equal(t, h.srv.accountCode(), e["accountId"])
			_, err := e["timestamp"].(json.Number).Int64()
			assert.NoError(t, err, "timestamp is epoch milliseconds")
			for _, k := range fields {
				assert.Contains(t, e, k, "%s.%s", typ, k)
			}
			for _, k := range []string{"numberAttachments", "emailSize", "delivered", "spamScore", "sizeAttachment", "taggedMalicious"} {
				if v, ok := e[k]; ok {
					assert.IsType(t, "", v, "%s.%s is a string, as in real samples", typ, k)
				}
			}
			id, _ := e["messageId"].(string)
			if id == "" {
				continue // envelope rejections and journal records have none
			}
			sm := siemMessageIDPattern.FindStringSubmatch(id)
			require.NotNil(t, sm, id)
			m, _ := strconv.Atoi(sm[1])
			n, _ := strconv.Atoi(sm[2])
			assert.Equal(t, h.srv.tenant.messageID(m, n), id, "the event names an archived message")
			subject, _ := messageSubject(h.srv.opts.Seed, m, n)
			assert.Equal(t, subject, e["subject"])
		}
	}
}

func TestBatchFilesAreDeterministic(t *testing.T) {
	a := newTenantHarness(t, Options{Seed: 6, Sizes: Sizes{EventsPerFeed: 30}})
	b := newTenantHarness(t, Options{Seed: 6, Sizes: Sizes{EventsPerFeed: 30}})
	c := newTenantHarness(t, Options{Seed: 7, Sizes: Sizes{EventsPerFeed: 30}})
	ea, _ := crawlBatch(t, a, url.Values{"type": {"process"}})
	eb, _ := crawlBatch(t, b, url.Values{"type": {"process"}})
	ec, _ := crawlBatch(t, c, url.Values{"type": {"process"}})
	assert.Equal(t, ea, eb)
	assert.NotEqual(t, ea, ec)
}

// streamPage is the stream response integrators' clients read.
type streamPage struct {
	Value      []map[string]any `json:"value"`
	NextPage   *string          `json:"@nextPage"`
	PageSize   int              `json:"pageSize"`
	IsCaughtUp bool             `json:"isCaughtUp"`
}

func TestStreamPagesEveryEventOfTheWindowOnceInTimeOrder(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 8, Sizes: Sizes{EventsPerFeed: 60, Span: 48 * time.Hour}})
	start := harnessAnchor.Add(-6 * time.Hour)
	q := url.Values{"dateRangeStartsAt": {start.Format("2006-01-02T15:04:05.000Z")}, "dateRangeEndsAt": {harnessAnchor.Format("2006-01-02T15:04:05.000Z")}, "pageSize": {"7"}}
	var events []map[string]any
	for range 100 {
		resp, raw := h.get("/siem/v1/events/cg", q, true)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
		var p streamPage
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		require.NoError(t, dec.Decode(&p))
		require.NotNil(t, p.NextPage)
		assert.Equal(t, len(p.Value), p.PageSize)
		events = append(events, p.Value...)
		q.Set("nextPage", *p.NextPage)
		if p.IsCaughtUp {
			break
		}
	}
	f := h.srv.siemFeed()
	want := 0
	for ti := range siemTypes {
		for i := range 60 {
			if ts := f.eventTime(ti, i); ts >= start.UnixMilli() && ts <= harnessAnchor.UnixMilli() {
				want++
			}
		}
	}
	require.NotZero(t, want)
	require.Len(t, events, want)
	seen := map[string]bool{}
	var times []int64
	for _, e := range events {
		assert.NotContains(t, e, "type")
		assert.NotContains(t, e, "subtype")
		assert.Contains(t, e, "subType")
		key := e["eventType"].(string) + "/" + e["_offset"].(json.Number).String()
		assert.False(t, seen[key], key)
		seen[key] = true
		ts, _ := e["timestamp"].(json.Number).Int64()
		times = append(times, ts)
	}
	assert.True(t, sort.SliceIsSorted(times, func(i, j int) bool { return times[i] < times[j] }))
}

func TestStreamFiltersTypes(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 8, Sizes: Sizes{EventsPerFeed: 60, Span: 12 * time.Hour}})
	resp, raw := h.get("/siem/v1/events/cg", url.Values{"types": {"av,spam"}}, true)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	var p streamPage
	require.NoError(t, json.Unmarshal(raw, &p))
	require.Len(t, p.Value, 100)
	for _, e := range p.Value {
		assert.Contains(t, []any{"av", "spam"}, e["eventType"])
	}
	assert.False(t, p.IsCaughtUp)
}

func TestStreamRefusesRangesOutsideTheLastDay(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 8})
	for name, q := range map[string]url.Values{
		"older than 24h": {"dateRangeStartsAt": {harnessAnchor.Add(-25 * time.Hour).Format("2006-01-02T15:04:05.000Z")}},
		"date only":      {"dateRangeStartsAt": {"2026-03-10"}},
		"end < start":    {"dateRangeStartsAt": {harnessAnchor.Add(-time.Hour).Format(time.RFC3339)}, "dateRangeEndsAt": {harnessAnchor.Add(-2 * time.Hour).Format(time.RFC3339)}},
		"bad token":      {"nextPage": {"eA=="}},
	} {
		resp, raw := h.get("/siem/v1/events/cg", q, true)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, name)
		assert.Contains(t, string(raw), `"code":"Request Validation Failed"`, name)
	}
	_, raw := h.get("/siem/v1/events/cg", url.Values{"dateRangeStartsAt": {harnessAnchor.Add(-25 * time.Hour).Format("2006-01-02T15:04:05.000Z")}}, true)
	assert.Contains(t, string(raw), "24-hour retention")
}

func TestBatchListingCostDoesNotGrowWithTheBacklog(t *testing.T) {
	at := func() time.Time { return harnessAnchor }
	allocs := func(events int) float64 {
		s := New(Options{Seed: 1, Anchor: harnessAnchor, Now: at, Sizes: Sizes{EventsPerFeed: events}})
		req := httptest.NewRequest(http.MethodGet, "/siem/v1/batch/events/cg?type=receipt&pageSize=100", nil)
		return testing.AllocsPerRun(5, func() { s.siemBatchList(httptest.NewRecorder(), req) })
	}
	small, large := allocs(100*siemDefaultEventsPerFile), allocs(1_000_000)
	// Both list a full page of 100 files; nothing is generated per event up front. (Longer
	// offsets in the tokens may cost a few more string allocations, hence the 2 % slack.)
	assert.InEpsilon(t, small, large, 0.02, "allocations must not depend on the backlog size")
	assert.Less(t, large, 100.0*40)
}

// TestBatchFileIsWrittenInBoundedChunks pins that a large file streams through the gzip
// writer: no single write to the response is larger than the buffer.
func TestBatchFileIsWrittenInBoundedChunks(t *testing.T) {
	s := New(Options{Seed: 1, Anchor: harnessAnchor, Sizes: Sizes{EventsPerFeed: 5000, SIEMEventsPerFile: 5000}})
	w := &chunkRecorder{ResponseRecorder: httptest.NewRecorder()}
	require.NoError(t, s.writeBatchFile(w, siemFile{ti: 0, start: 0, end: 5000}))
	assert.Greater(t, w.writes, 2)
	assert.LessOrEqual(t, w.largest, 32<<10)
	zr, err := gzip.NewReader(w.Body)
	require.NoError(t, err)
	lines := 0
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines++
	}
	require.NoError(t, sc.Err())
	assert.Equal(t, 5000, lines)
}

type chunkRecorder struct {
	*httptest.ResponseRecorder
	writes, largest int
}

func (c *chunkRecorder) Write(p []byte) (int, error) {
	c.writes++
	c.largest = max(c.largest, len(p))
	return c.ResponseRecorder.Write(p)
}

func BenchmarkBatchListingMillionEventsPerType(b *testing.B) {
	s := New(Options{Seed: 1, Sizes: Sizes{EventsPerFeed: 1_000_000}})
	req := httptest.NewRequest(http.MethodGet, "/siem/v1/batch/events/cg?pageSize=100", nil)
	b.ReportAllocs()
	for b.Loop() {
		s.siemBatchList(httptest.NewRecorder(), req)
	}
}

func BenchmarkBatchFile100Events(b *testing.B) {
	s := New(Options{Seed: 1})
	b.ReportAllocs()
	for b.Loop() {
		_ = s.writeBatchFile(httptest.NewRecorder(), siemFile{ti: 1, start: 0, end: 100})
	}
}
