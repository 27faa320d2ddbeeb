package mimecastfake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// feedPagesPinned are the SHA-256 digests of what the threat feeds serve for the tenant of
// feedPagesOptions (batch files after gunzip). The feeds are rendered by hand-written encoders
// for speed; these digests were taken from the earlier encoding/json rendering, so any
// difference in content, field order or whitespace shows up here. Change a digest only when a
// feed's content is meant to change, and say so in the commit.
var feedPagesPinned = map[string]string{
	"attachment":           "3db384dbf29daf3461382744c06dc8a6dda8c1177bce20487ef3622815549037",
	"attachment_filtered":  "a4baead96fe53891379c975d9faf1cd4dd8d1b0b624f0d0c3c31ff683dfdd25d",
	"hold_list":            "b3576cfccec5226fbcd52d1b0e2e997bfa750be92398e189f18199ba5418ac53",
	"impersonation":        "314b727d0e0493486ac548514ba9a179e2c570bd1bf8288176574d50b1b44417",
	"impersonation_search": "0e6eecc0a7bce71dd479bd54dc598ee23231322a19107492635ae9e6383b97e4",
	"release_logs":         "d4c2a6244074c6eb35d09e74c862a22d048df00f0ef85065c0a9ffc5c8fdefa6",
	"siem_files":           "80d552e1aef544878c4b5d8b9a4e90a8d1c48bfbe2f7c2728323ba2d66e3f63f",
	"siem_list":            "a6028a5487558966b38ed1f7cb98c794f1336aa3fe46c45b3f9fd952e0afa9df",
	"siem_stream":          "aa1d9df1608d02bb1395b9abe8f5d88db95442445c29d8181f4714bed1a0d38a",
	"threats":              "8ad3f9a13e45311c88c231d295bda470e5e5f38fe77746fcf29021aba6a1186d",
	"threats_events_shape": "63f2b026d9877a7eeb8d33fb1b1f4bd717745410882e32e79ba21c238a30dd2a",
	"threats_filtered":     "e64282091341d9770a0c829ec7df07befb65f3199fdc2246a42187bdbd0e1b04",
	"url":                  "cd179fa8b166864b597387d9b0135301c43093f4e4f5e7221de882e9d65e1d05",
	"url_oldest":           "0f7bf0597e15e96f266853fbb0b7d3839cb2823980c0a66a2e1dbdf29f6b0151",
}

// feedPageCases renders several pages of every threat feed, by name.
func feedPageCases(tb testing.TB) map[string][][]byte {
	tb.Helper()
	c := newDirectClient(tb, feedPagesOptions(3000))
	from := feedPagesAnchor.Add(-72 * time.Hour).Format(apiTimeLayout)
	threatsFrom := feedPagesAnchor.Add(-72 * time.Hour).Format(threatTimeLayout)
	out := map[string][][]byte{
		"url":        c.crawlAPI("/api/ttp/url/get-logs", 500, 3, map[string]any{"from": from}),
		"url_oldest": c.crawlAPI("/api/ttp/url/get-logs", 200, 2, map[string]any{"from": from, "oldestFirst": true, "scanResult": "malicious"}),
		"attachment": c.crawlAPI("/api/ttp/attachment/get-logs", 500, 3, map[string]any{"from": from}),
		"attachment_filtered": c.crawlAPI("/api/ttp/attachment/get-logs", 100, 2,
			map[string]any{"from": from, "route": "inbound", "result": "malicious"}),
		"impersonation": c.crawlAPI("/api/ttp/impersonation/get-logs", 500, 3, map[string]any{"from": from}),
		"impersonation_search": c.crawlAPI("/api/ttp/impersonation/get-logs", 100, 2,
			map[string]any{"from": from, "searchField": "all", "query": "example", "taggedMalicious": true}),
		"hold_list":    c.crawlAPI("/api/gateway/get-hold-message-list", 100, 2, map[string]any{"admin": true}),
		"release_logs": c.crawlAPI("/api/gateway/get-held-release-logs", 100, 2, map[string]any{}),
		"threats": c.crawlREST("/threats/v1/events",
			url.Values{"timestampRangeStartsAt": {threatsFrom}, "pageSize": {"100"}}, "", 4),
		"threats_filtered": c.crawlREST("/threats/v1/events",
			url.Values{"timestampRangeStartsAt": {threatsFrom}, "pageSize": {"50"}, "analysis": {"malware,phishing"}, "orderBy": {"timestamp:asc"}}, "", 2),
		"siem_list":   c.crawlREST("/siem/v1/batch/events/cg", url.Values{"pageSize": {"7"}}, "@nextPage", 4),
		"siem_stream": c.crawlREST("/siem/v1/events/cg", url.Values{"pageSize": {"100"}}, "@nextPage", 4),
	}
	var files [][]byte
	for ti, typ := range siemTypes {
		list := c.serve(http.MethodGet, "/siem/v1/batch/events/cg?"+url.Values{"type": {typ}, "pageSize": {"2"}}.Encode(), nil)
		for _, u := range batchFileURLs(tb, list) {
			files = append(files, gunzipAll(tb, c.serve(http.MethodGet, u, nil)))
		}
		for _, flags := range []int{fileMalformed, fileTruncated} {
			rec := newBufferedWriter()
			_ = c.srv.writeBatchFile(rec, siemFile{ti: ti, start: 1000, end: 1500, flags: flags})
			files = append(files, gunzipAll(tb, rec.body.Bytes()))
		}
	}
	out["siem_files"] = files

	ev := feedPagesOptions(3000)
	ev.ThreatsShape = ThreatsShapeEvents
	ce := newDirectClient(tb, ev)
	out["threats_events_shape"] = ce.crawlREST("/threats/v1/events",
		url.Values{"timestampRangeStartsAt": {threatsFrom}, "pageSize": {"100"}}, "nextPage", 2)
	return out
}

func newBufferedWriter() *bufferedResponse { return &bufferedResponse{header: http.Header{}} }

func digestPages(pages [][]byte) string {
	h := sha256.New()
	for _, p := range pages {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{0})
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestThreatFeedsServeThePinnedBytes(t *testing.T) {
	for name, pages := range feedPageCases(t) {
		got := digestPages(pages)
		if want, ok := feedPagesPinned[name]; ok {
			assert.Equal(t, want, got, "feed %s serves different bytes", name)
		} else {
			t.Errorf("feed %s has no pinned digest; it serves %q", name, got)
		}
	}
}

// The hand-written encoders rely on their keys being listed in encoding/json's (byte) order;
// for SIEM events that order is the siemKey constants'.
func TestSIEMKeyNamesAreInByteOrder(t *testing.T) {
	assert.True(t, slices.IsSorted(siemKeyNames[:]), "siemKeyNames must be sorted: %q", siemKeyNames)
	assert.Equal(t, "subType", siemKeyNames[skSubTypeStream])
	assert.Equal(t, "virusFound", siemKeyNames[skVirusFound])
}

func TestJSONStringEscapingMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnl\nret\r\x00\x01\x1f\x7f",
		"Rechnung für März – Überprüfung nötig", "会议纪要 📎", "bad \xff\xfe utf8", "sep \u2028 \u2029", "\b\f",
	} {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(appendJSONString(nil, s)), "%q", s)
	}
}
