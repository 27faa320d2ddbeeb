package mimecastfake

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var since2020 = map[string]any{"from": "2020-01-01T00:00:00+0000"}

func TestURLLogsMatchTheNotesShape(t *testing.T) {
	h := newFakeHarness(t, Options{})
	status, body := h.post("/api/ttp/url/get-logs", apiBody(50, "", since2020))
	require.Equal(t, http.StatusOK, status)
	recs := namedRecords("clickLogs")(t, requireEnvelope(t, body, true))
	require.Len(t, recs, 50)
	seen := map[string]bool{}
	for _, r := range recs {
		m := requireShape(t, r, shape{
			"userEmailAddress": "string", "fromUserEmailAddress": "string", "url": "string", "ttpDefinition": "string",
			"subject": "string", "action": "string", "adminOverride": "string", "userOverride": "string",
			"scanResult": "string", "category": "string", "sendingIp": "string", "userAwarenessAction": "string",
			"date": "time", "actions": "string", "route": "string", "creationMethod": "string",
			"emailPartsDescription": "array", "messageId": "msgid", "tagMap": "object",
		})
		assert.Contains(t, []string{"allow", "warn", "block"}, m["action"])
		assert.Contains(t, []string{"Allow", "Block", "Browser Isolation", "None"}, m["actions"])
		assert.Contains(t, []string{"clean", "malicious"}, m["scanResult"])
		assert.Contains(t, []string{"Entry Scan", "User Click"}, m["creationMethod"])
		assert.Contains(t, []string{"inbound", "outbound", "internal"}, m["route"])
		seen[m["scanResult"].(string)] = true
	}
	assert.Len(t, seen, 2, "a page of 50 has clean and malicious clicks")
}

func TestAttachmentLogsMatchTheNotesShape(t *testing.T) {
	h := newFakeHarness(t, Options{})
	_, body := h.post("/api/ttp/attachment/get-logs", apiBody(30, "", since2020))
	recs := namedRecords("attachmentLogs")(t, requireEnvelope(t, body, true))
	require.NotEmpty(t, recs)
	for _, r := range recs {
		m := requireShape(t, r, shape{
			"senderAddress": "string", "recipientAddress": "string", "fileName": "string", "fileType": "string",
			"result": "string", "actionTriggered": "string", "date": "time", "details": "string", "route": "string",
			"messageId": "msgid", "subject": "string", "fileHash": "string", "definition": "string",
		})
		assert.Len(t, m["fileHash"], 64, "SHA-256 hex")
		assert.Contains(t, []string{"safe", "malicious", "unknown", "timeout"}, m["result"])
	}
}

func TestImpersonationLogsCarryResultCountBesideTheList(t *testing.T) {
	h := newFakeHarness(t, Options{})
	_, body := h.post("/api/ttp/impersonation/get-logs", apiBody(10, "", since2020))
	data := requireEnvelope(t, body, true)
	require.Len(t, data, 1)
	wrapper := requireShape(t, data[0], shape{"impersonationLogs": "array", "resultCount": "number"})
	assert.Equal(t, 100, asInt(t, wrapper["resultCount"]))
	for _, r := range wrapper["impersonationLogs"].([]any) {
		m := requireShape(t, r, shape{
			"id": "string", "senderAddress": "string", "recipientAddress": "string", "subject": "string",
			"definition": "string", "hits": "number", "identifiers": "array", "action": "string",
			"taggedExternal": "bool", "taggedMalicious": "bool", "senderIpAddress": "string", "eventTime": "time",
			"impersonationResults": "array", "messageId": "msgid",
		})
		for _, ir := range m["impersonationResults"].([]any) {
			requireShape(t, ir, shape{"impersonationDomainSource": "string", "similarDomain": "string",
				"stringSimilarToDomain": "string", "checkerResult": "string"})
		}
	}
}

// alertLists are the paged alert lists with an item that selects their whole backlog.
func alertLists() []listEndpoint {
	return []listEndpoint{
		{path: "/api/ttp/url/get-logs", item: since2020, records: namedRecords("clickLogs")},
		{path: "/api/ttp/attachment/get-logs", item: since2020, records: namedRecords("attachmentLogs")},
		{path: "/api/ttp/impersonation/get-logs", item: since2020, records: namedRecords("impersonationLogs")},
		{path: "/api/gateway/get-hold-message-list", item: map[string]any{"admin": true}, records: flatRecords},
		{path: "/api/gateway/get-held-release-logs", item: map[string]any{"start": "2020-01-01T00:00:00+0000"}, records: namedRecords("heldReleaseLogs")},
	}
}

func TestPaginationServesEveryRecordExactlyOnce(t *testing.T) {
	h := newFakeHarness(t, Options{Sizes: Sizes{EventsPerFeed: 137}})
	for _, ep := range alertLists() {
		t.Run(ep.path, func(t *testing.T) {
			all, total := h.crawl(ep, 10)
			require.Equal(t, 137, total)
			require.Len(t, all, 137)
			seen := map[string]bool{}
			for _, r := range all {
				k := mustJSON(t, r)
				require.False(t, seen[k], "record served twice: %s", k)
				seen[k] = true
			}
		})
	}
}

func TestFilteredPaginationMatchesTotalCount(t *testing.T) {
	h := newFakeHarness(t, Options{Sizes: Sizes{EventsPerFeed: 300}})
	item := map[string]any{"from": "2020-01-01T00:00:00+0000", "scanResult": "malicious"}
	all, total := h.crawl(listEndpoint{path: "/api/ttp/url/get-logs", item: item, records: namedRecords("clickLogs")}, 7)
	require.Len(t, all, total)
	require.Greater(t, total, 30)
	require.Less(t, total, 150)
	for _, r := range all {
		assert.Equal(t, "malicious", r.(map[string]any)["scanResult"])
	}
}

func TestRecordsAreNewestFirstUnlessOldestFirst(t *testing.T) {
	h := newFakeHarness(t, Options{})
	dates := func(item map[string]any) []time.Time {
		all, _ := h.crawl(listEndpoint{path: "/api/ttp/url/get-logs", item: item, records: namedRecords("clickLogs")}, 40)
		out := make([]time.Time, len(all))
		for k, r := range all {
			d, err := time.Parse("2006-01-02T15:04:05-0700", r.(map[string]any)["date"].(string))
			require.NoError(t, err)
			out[k] = d
		}
		return out
	}
	newest := dates(since2020)
	for k := 1; k < len(newest); k++ {
		require.False(t, newest[k].After(newest[k-1]), "newest first")
	}
	oldest := dates(map[string]any{"from": "2020-01-01T00:00:00+0000", "oldestFirst": true})
	for k := 1; k < len(oldest); k++ {
		require.False(t, oldest[k].Before(oldest[k-1]), "oldest first")
	}
	assert.Equal(t, newest[0], oldest[len(oldest)-1])
}

func TestTimeFilterAcceptsEveryDocumentedFormat(t *testing.T) {
	h := newFakeHarness(t, Options{})
	from := h.clock.Now().Add(-24 * time.Hour).UTC()
	count := func(f string) int {
		_, body := h.post("/api/ttp/url/get-logs", apiBody(1, "", map[string]any{"from": f}))
		require.Empty(t, body["fail"], f)
		return asInt(t, body["meta"].(map[string]any)["pagination"].(map[string]any)["totalCount"])
	}
	want := count(from.Format("2006-01-02T15:04:05-0700"))
	require.Greater(t, want, 10)
	require.Less(t, want, 100)
	for _, f := range []string{
		from.Format(time.RFC3339),
		from.Format("2006-01-02T15:04:05Z"),
		from.In(time.FixedZone("", 2*3600)).Format("2006-01-02T15:04:05Z07:00"),
		from.In(time.FixedZone("", -5*3600)).Format("2006-01-02T15:04:05-0700"),
		from.Format("2006-01-02T15:04:05.000Z"),
	} {
		assert.Equal(t, want, count(f), f)
	}
}

func TestDefaultWindowStartsAtTheStartOfToday(t *testing.T) {
	h := newFakeHarness(t, Options{})
	_, body := h.post("/api/ttp/url/get-logs", apiBody(500, "", nil))
	recs := namedRecords("clickLogs")(t, body["data"].([]any))
	require.NotEmpty(t, recs)
	midnight := startOfDay(h.clock.Now())
	for _, r := range recs {
		d, err := time.Parse("2006-01-02T15:04:05-0700", r.(map[string]any)["date"].(string))
		require.NoError(t, err)
		assert.False(t, d.Before(midnight))
	}
}

func TestBadDateIsAFunctionFailEchoingTheItem(t *testing.T) {
	h := newFakeHarness(t, Options{})
	item := map[string]any{"from": "yesterday", "route": "inbound"}
	status, body := h.post("/api/ttp/url/get-logs", apiBody(nil, "", item))
	require.Equal(t, http.StatusOK, status, "function-level failures come with HTTP 200")
	assert.Equal(t, []any{}, body["data"])
	fails := body["fail"].([]any)
	require.Len(t, fails, 1)
	f := fails[0].(map[string]any)
	assert.JSONEq(t, mustJSON(t, item), mustJSON(t, f["key"]))
	e := requireShape(t, f["errors"].([]any)[0], shape{"code": "string", "message": "string", "retryable": "bool"})
	assert.Equal(t, "err_validation_invalid_date", e["code"])
	assert.Equal(t, "from", e["field"])
	assert.Equal(t, false, e["retryable"])
}

func TestInvalidFiltersAreFunctionFails(t *testing.T) {
	h := newFakeHarness(t, Options{})
	cases := map[string]struct {
		path string
		item map[string]any
	}{
		"route enum":         {"/api/ttp/url/get-logs", map[string]any{"route": "sideways"}},
		"scanResult enum":    {"/api/ttp/url/get-logs", map[string]any{"scanResult": "dirty"}},
		"wrong type":         {"/api/ttp/url/get-logs", map[string]any{"oldestFirst": "yes"}},
		"to before from":     {"/api/ttp/attachment/get-logs", map[string]any{"from": "2025-01-02T00:00:00Z", "to": "2025-01-01T00:00:00Z"}},
		"query needed":       {"/api/ttp/impersonation/get-logs", map[string]any{"searchField": "subject"}},
		"unknown identifier": {"/api/ttp/impersonation/get-logs", map[string]any{"identifiers": []string{"nope"}}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			status, body := h.post(c.path, apiBody(nil, "", c.item))
			require.Equal(t, http.StatusOK, status)
			require.Len(t, body["fail"], 1)
			assert.NotNil(t, body["fail"].([]any)[0].(map[string]any)["key"])
		})
	}
}

func TestMalformedJSONIs400(t *testing.T) {
	h := newFakeHarness(t, Options{})
	status, body := decodeResponse(t, h.do(http.MethodPost, "/api/ttp/url/get-logs", `{"data":[`))
	require.Equal(t, http.StatusBadRequest, status)
	assert.Len(t, body["fail"], 1)
}

func TestPageTokenOfAnotherRequestIsRefused(t *testing.T) {
	h := newFakeHarness(t, Options{})
	_, p1 := h.post("/api/ttp/url/get-logs", apiBody(5, "", since2020))
	next := p1["meta"].(map[string]any)["pagination"].(map[string]any)["next"].(string)
	for name, c := range map[string]struct {
		path  string
		item  map[string]any
		token string
	}{
		"other filter":   {"/api/ttp/url/get-logs", map[string]any{"from": "2021-01-01T00:00:00+0000"}, next},
		"other endpoint": {"/api/ttp/attachment/get-logs", since2020, next},
		"garbage":        {"/api/ttp/url/get-logs", since2020, "bm90LWEtdG9rZW4"},
	} {
		t.Run(name, func(t *testing.T) {
			status, body := h.post(c.path, apiBody(5, c.token, c.item))
			require.Equal(t, http.StatusOK, status)
			require.Len(t, body["fail"], 1)
			e := body["fail"].([]any)[0].(map[string]any)["errors"].([]any)[0].(map[string]any)
			assert.Equal(t, "err_invalid_page_token", e["code"])
		})
	}
}

func TestPageSizeIsToleratedAsAStringAndCapped(t *testing.T) {
	h := newFakeHarness(t, Options{Sizes: Sizes{EventsPerFeed: 600}})
	size := func(ps any) int {
		_, body := h.post("/api/ttp/url/get-logs", apiBody(ps, "", since2020))
		require.Empty(t, body["fail"])
		return len(namedRecords("clickLogs")(t, body["data"].([]any)))
	}
	assert.Equal(t, 7, size("7"))
	assert.Equal(t, 500, size(10000))
	assert.Equal(t, 25, size(nil), "default page size")
	assert.Equal(t, 25, size(0))
	_, body := h.post("/api/ttp/url/get-logs", apiBody("seven", "", since2020))
	assert.Len(t, body["fail"], 1)
}

func TestSameSeedGivesSameRecords(t *testing.T) {
	page := func(seed int64) string {
		h := newFakeHarness(t, Options{Seed: seed})
		var out []any
		for _, ep := range alertLists() {
			_, body := h.post(ep.path, apiBody(20, "", ep.item))
			recs := ep.records(t, body["data"].([]any))
			require.Len(t, recs, 20, ep.path)
			out = append(out, recs)
		}
		_, body := h.get("/threats/v1/events", map[string][]string{"timestampRangeStartsAt": {"2020-01-01T00:00:00Z"}})
		require.Len(t, body["data"], 25)
		return mustJSON(t, append(out, body["data"]))
	}
	a := page(7)
	assert.True(t, a == page(7), "same seed, same records")
	assert.False(t, a == page(8), "another seed, other records")
}

func TestLiveEventsAppearAsTheClockMoves(t *testing.T) {
	h := newFakeHarness(t, Options{TokenTTL: 24 * time.Hour, Sizes: Sizes{EventsPerFeed: 10, LiveEventsPerHour: 60}})
	ep := listEndpoint{path: "/api/ttp/url/get-logs", item: since2020, records: namedRecords("clickLogs")}
	_, total := h.crawl(ep, 100)
	require.Equal(t, 10, total, "only the backlog at the anchor")

	_, p1 := h.post(ep.path, apiBody(4, "", ep.item))
	next := p1["meta"].(map[string]any)["pagination"].(map[string]any)["next"].(string)

	h.clock.Advance(30 * time.Minute)
	_, total = h.crawl(ep, 100)
	assert.Equal(t, 40, total, "one live event per minute")

	// A crawl that started before the clock moved keeps its snapshot: no offset shifts.
	_, p2 := h.post(ep.path, apiBody(4, next, ep.item))
	assert.Equal(t, 10, asInt(t, p2["meta"].(map[string]any)["pagination"].(map[string]any)["totalCount"]))
	first := namedRecords("clickLogs")(t, p1["data"].([]any))
	second := namedRecords("clickLogs")(t, p2["data"].([]any))
	assert.NotEqual(t, mustJSON(t, first[3]), mustJSON(t, second[0]))

	h.clock.Advance(time.Hour)
	_, total = h.crawl(ep, 100)
	assert.Equal(t, 100, total)
}
