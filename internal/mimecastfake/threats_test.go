package mimecastfake

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var threatEventShape = shape{
	"id": "string", "timestamp": "rfc3339ms", "analysis": "string", "status": "string", "direction": "string",
	"source": "string", "severity": "string", "threatName": "string", "messageId": "msgid", "subject": "string",
	"senderAddress": "string", "senderDomain": "string", "recipientAddress": "string", "senderIp": "string",
}

func since(q url.Values) url.Values {
	q.Set("timestampRangeStartsAt", "2020-01-01T00:00:00Z")
	return q
}

func TestThreatEventsDataShape(t *testing.T) {
	h := newFakeHarness(t, Options{})
	status, body := h.get("/threats/v1/events", since(url.Values{"pageSize": {"40"}}))
	require.Equal(t, http.StatusOK, status)
	pag := requireShape(t, body["meta"].(map[string]any)["pagination"], shape{"pageSize": "number", "totalCount": "number", "next": "string"})
	assert.Equal(t, 100, asInt(t, pag["totalCount"]))
	data := body["data"].([]any)
	require.Len(t, data, 40)
	for _, e := range data {
		m := requireShape(t, e, threatEventShape)
		assert.Contains(t, threatAnalyses, m["analysis"])
		assert.Contains(t, threatStatuses, m["status"])
		assert.Contains(t, threatSources, m["source"])
		if m["source"] == "url" {
			requireShape(t, m, shape{"url": "string"})
		}
	}
}

func TestThreatEventsEventsShape(t *testing.T) {
	h := newFakeHarness(t, Options{ThreatsShape: ThreatsShapeEvents})
	status, body := h.get("/threats/v1/events", since(url.Values{"pageSize": {"30"}}))
	require.Equal(t, http.StatusOK, status)
	m := requireShape(t, body, shape{"events": "array", "total": "number", "nextPage": "string"})
	assert.Len(t, m["events"], 30)
	assert.NotContains(t, body, "data")
}

func TestThreatEventsPaginateToTheEnd(t *testing.T) {
	for _, shapeName := range []string{ThreatsShapeData, ThreatsShapeEvents} {
		t.Run(shapeName, func(t *testing.T) {
			h := newFakeHarness(t, Options{ThreatsShape: shapeName, Sizes: Sizes{EventsPerFeed: 97}})
			seen := map[string]bool{}
			next := ""
			for pages := 0; ; pages++ {
				require.Less(t, pages, 100)
				q := since(url.Values{"pageSize": {"10"}})
				if next != "" {
					q.Set("nextPage", next)
				}
				_, body := h.get("/threats/v1/events", q)
				var events []any
				if shapeName == ThreatsShapeData {
					events = body["data"].([]any)
					next, _ = body["meta"].(map[string]any)["pagination"].(map[string]any)["next"].(string)
				} else {
					events = body["events"].([]any)
					next, _ = body["nextPage"].(string)
				}
				for _, e := range events {
					id := e.(map[string]any)["id"].(string)
					require.False(t, seen[id], "event %s served twice", id)
					seen[id] = true
				}
				if next == "" {
					break
				}
			}
			assert.Len(t, seen, 97)
		})
	}
}

func TestThreatEventsFilterByAnalysisStatusAndSource(t *testing.T) {
	h := newFakeHarness(t, Options{Sizes: Sizes{EventsPerFeed: 400}})
	for name, q := range map[string]url.Values{
		"repeated":        {"analysis": {"phishing", "malware"}, "status": {"held"}, "pageSize": {"100"}},
		"comma-separated": {"analysis": {"phishing,malware"}, "status": {"held"}, "pageSize": {"100"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, body := h.get("/threats/v1/events", since(q))
			data := body["data"].([]any)
			require.NotEmpty(t, data)
			for _, e := range data {
				m := e.(map[string]any)
				assert.Contains(t, []string{"phishing", "malware"}, m["analysis"])
				assert.Equal(t, "held", m["status"])
			}
		})
	}
	_, body := h.get("/threats/v1/events", since(url.Values{"source": {"url"}, "pageSize": {"100"}}))
	for _, e := range body["data"].([]any) {
		assert.Equal(t, "url", e.(map[string]any)["source"])
	}
}

func TestThreatEventsOrderBy(t *testing.T) {
	h := newFakeHarness(t, Options{})
	_, desc := h.get("/threats/v1/events", since(url.Values{"pageSize": {"100"}}))
	_, asc := h.get("/threats/v1/events", since(url.Values{"pageSize": {"100"}, "orderBy": {"timestamp:asc"}}))
	d, a := desc["data"].([]any), asc["data"].([]any)
	require.Len(t, d, 100)
	assert.Equal(t, mustJSON(t, d[0]), mustJSON(t, a[len(a)-1]))
	assert.GreaterOrEqual(t, d[0].(map[string]any)["timestamp"], d[99].(map[string]any)["timestamp"])
}

func TestThreatEventsValidationErrors(t *testing.T) {
	h := newFakeHarness(t, Options{})
	for name, q := range map[string]url.Values{
		"no start":       {},
		"bad start":      {"timestampRangeStartsAt": {"last tuesday"}},
		"bad analysis":   since(url.Values{"analysis": {"ransom"}}),
		"bad status":     since(url.Values{"status": {"lost"}}),
		"bad orderBy":    since(url.Values{"orderBy": {"subject"}}),
		"bad page token": since(url.Values{"nextPage": {"garbage"}}),
		"bad page size":  since(url.Values{"pageSize": {"lots"}}),
	} {
		t.Run(name, func(t *testing.T) {
			status, body := h.get("/threats/v1/events", q)
			require.Equal(t, http.StatusBadRequest, status)
			requireShape(t, body["error"], shape{"code": "string", "message": "string"})
		})
	}
}

func TestThreatEventsPageSizeCappedAt100(t *testing.T) {
	h := newFakeHarness(t, Options{Sizes: Sizes{EventsPerFeed: 300}})
	_, body := h.get("/threats/v1/events", since(url.Values{"pageSize": {"1000"}}))
	assert.Len(t, body["data"], 100)
}
