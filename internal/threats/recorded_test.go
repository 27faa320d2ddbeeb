package threats

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// Records that public integrations recorded from real Mimecast tenants (the sources are named
// in testdata/recorded/SOURCES.md: elastic/integrations, demisto/content, DataDog
// integrations-core, SEKOIA-IO automation-library, Sumo Logic's docs), served as Mimecast serves
// them. Every one must come out of the input once, its body the bytes Mimecast sent.

// recordedFeed is one fixture file and how Mimecast serves its records.
type recordedFeed struct {
	file     string
	endpoint string
	wrap     string // the list's key inside data[0]; "" for a flat data[]
}

var recordedFeeds = []recordedFeed{
	{"ttp_url_logs.json", mimecast.PathURLLogs, "clickLogs"},
	{"ttp_attachment_logs.json", mimecast.PathAttachmentLogs, "attachmentLogs"},
	{"ttp_impersonation_logs.json", mimecast.PathImpersonationLogs, "impersonationLogs"},
	{"held_messages.json", mimecast.PathHoldMessageList, ""},
	{"held_release_logs.json", mimecast.PathHeldReleaseLogs, "heldReleaseLogs"},
}

// readRecorded returns the compact bytes of each record of a fixture file (a JSON array, or
// NDJSON for SIEM lines).
func readRecorded(t *testing.T, file string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "recorded", file))
	require.NoError(t, err)
	var items []json.RawMessage
	if filepath.Ext(file) == ".ndjson" {
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				items = append(items, slices.Clone(line))
			}
		}
		require.NoError(t, sc.Err())
	} else {
		require.NoError(t, json.Unmarshal(raw, &items))
	}
	out := make([][]byte, 0, len(items))
	for _, it := range items {
		var b bytes.Buffer
		require.NoError(t, json.Compact(&b, it), "%s holds invalid JSON", file)
		out = append(out, b.Bytes())
	}
	require.NotEmpty(t, out, file)
	return out
}

// recordedTenant serves each fixture once on its endpoint (later pages are empty, as a caught-up
// feed is) and the SIEM lines as one batch file.
func recordedTenant(t *testing.T) (url string, want [][]byte) {
	t.Helper()
	pages := map[string][]byte{}
	empty := map[string][]byte{}
	for _, f := range recordedFeeds {
		recs := readRecorded(t, f.file)
		want = append(want, recs...)
		list := "[" + string(bytes.Join(recs, []byte(","))) + "]"
		data, none := list, "[]"
		if f.wrap != "" {
			data = fmt.Sprintf(`[{%q:%s}]`, f.wrap, list)
			none = fmt.Sprintf(`[{%q:[]}]`, f.wrap)
		}
		pages[f.endpoint] = []byte(`{"meta":{"status":200,"pagination":{"pageSize":` + fmt.Sprint(len(recs)) + `}},"data":` + data + `,"fail":[]}`)
		empty[f.endpoint] = []byte(`{"meta":{"status":200,"pagination":{"pageSize":0}},"data":` + none + `,"fail":[]}`)
	}
	lines := readRecorded(t, "siem_lines.ndjson")
	want = append(want, lines...)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(append(bytes.Join(lines, []byte("\n")), '\n'))
	require.NoError(t, zw.Close())

	var (
		mu     sync.Mutex
		served = map[string]bool{}
		srv    *httptest.Server
	)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := !served[r.URL.Path]
		served[r.URL.Path] = true
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch p := r.URL.Path; {
		case p == "/oauth/token":
			_, _ = w.Write([]byte(`{"access_token":"recorded-token-0123456789","token_type":"Bearer","expires_in":1799}`))
		case p == mimecast.PathSIEMBatch:
			if !first || r.URL.Query().Get("type") != "receipt" {
				_, _ = w.Write([]byte(`{"value":[],"@nextPage":"caught-up","isCaughtUp":true}`))
				return
			}
			fmt.Fprintf(w, `{"value":[{"url":"%s/files/recorded.json.gz","expiry":"2099-01-01T00:00:00.000Z","size":%d}],"@nextPage":"p2","isCaughtUp":false}`, srv.URL, gz.Len())
		case p == "/files/recorded.json.gz":
			w.Header().Set("Content-Type", "application/gzip")
			_, _ = w.Write(gz.Bytes())
		case pages[p] != nil:
			if first {
				_, _ = w.Write(pages[p])
			} else {
				_, _ = w.Write(empty[p])
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, want
}

func TestRecordedRecordsOfEveryFeedAreEmittedOnceByteForByte(t *testing.T) {
	url, all := recordedTenant(t)
	want := distinctEvents(all)
	require.Len(t, want, len(all)-1, "one pair of Mimecast's documentation examples is one event")
	conf := "feeds: [url_protect, attachment_protect, impersonation_protect, held_messages, siem]\n" +
		"siem_event_types: [receipt]\nlookback: 87600h\n"
	msgs := collectAll(t, threatsYAML(url, conf), "", len(want))
	var got [][]byte
	for _, m := range msgs {
		require.NoError(t, m.GetError(), "feed %s", meta(m, metaFeed))
		b, err := m.AsBytes()
		require.NoError(t, err)
		got = append(got, b)
		var f map[string]any
		require.NoError(t, json.Unmarshal(b, &f))
		if meta(m, metaFeed) != feedSIEM || f["type"] != "journal" {
			assert.NotEmpty(t, meta(m, metaStatus), "a status from the record's fields: %s", b)
		}
		if slices.ContainsFunc([]string{"eventTime", "released", "dateReceived", "date", "timestamp"}, func(k string) bool { return f[k] != nil }) {
			assert.NotEmpty(t, meta(m, metaEventTime), "%s record has its time: %s", meta(m, metaFeed), b)
		}
	}
	str := func(bs [][]byte) []string {
		out := make([]string, 0, len(bs))
		for _, b := range bs {
			out = append(out, string(b))
		}
		return out
	}
	assert.ElementsMatch(t, str(want), str(got), "every recorded record once, as Mimecast sent it")
}

// distinctEvents leaves out the records that repeat an earlier one's event as the input's docs
// define it: a record with an id of its own is that id at its time for its message. The held
// release log's documentation examples (kept in the fixture as a second shape) elide the ids to
// "eNpVj21LhEAUhf_LfN2VnRl1RpclCN...", so two of them are one event.
func distinctEvents(recs [][]byte) [][]byte {
	seen := map[string]bool{}
	var out [][]byte
	for _, r := range recs {
		var f map[string]any
		if json.Unmarshal(r, &f) == nil {
			if id, ok := f["id"].(string); ok && id != "" {
				key := fmt.Sprint(id, "|", f["eventTime"], f["released"], f["dateReceived"], "|", f["messageId"])
				if seen[key] {
					continue
				}
				seen[key] = true
			}
		}
		out = append(out, r)
	}
	return out
}
