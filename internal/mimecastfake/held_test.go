package mimecastfake

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHoldListIsAFlatListOfTheNotesShape(t *testing.T) {
	h := newFakeHarness(t, Options{})
	status, body := h.post("/api/gateway/get-hold-message-list", apiBody(40, "", map[string]any{"admin": true}))
	require.Equal(t, http.StatusOK, status)
	data := requireEnvelope(t, body, true)
	require.Len(t, data, 40)
	addr := shape{"emailAddress": "string", "displayableName": "string"}
	for _, r := range data {
		m := requireShape(t, r, shape{
			"id": "string", "reason": "string", "reasonId": "string", "reasonCode": "string", "from": "object",
			"fromHeader": "object", "to": "object", "subject": "string", "route": "string", "hasAttachments": "bool",
			"size": "number", "dateReceived": "time", "policyInfo": "string",
		})
		requireShape(t, m["from"], addr)
		requireShape(t, m["to"], addr)
		assert.Equal(t, strings.ToUpper(m["route"].(string)), m["route"], "route is upper-case")
		assert.Equal(t, strings.ToLower(m["reasonId"].(string)), m["reasonCode"])
	}
}

func TestHoldListWithoutAdminIsEmpty(t *testing.T) {
	h := newFakeHarness(t, Options{})
	_, body := h.post("/api/gateway/get-hold-message-list", apiBody(nil, "", map[string]any{"admin": false}))
	assert.Empty(t, requireEnvelope(t, body, true))
}

func TestHoldListFiltersByRouteAndSearch(t *testing.T) {
	h := newFakeHarness(t, Options{Sizes: Sizes{EventsPerFeed: 300}})
	ep := listEndpoint{path: "/api/gateway/get-hold-message-list", records: flatRecords,
		item: map[string]any{"admin": true, "filterBy": []any{map[string]any{"fieldName": "route", "value": "outbound"}}}}
	out, total := h.crawl(ep, 50)
	require.NotEmpty(t, out)
	require.Len(t, out, total)
	for _, r := range out {
		assert.Equal(t, "OUTBOUND", r.(map[string]any)["route"])
	}

	ep.item = map[string]any{"admin": true, "searchBy": map[string]any{"fieldName": "reason_code", "value": "attachment"}}
	out, _ = h.crawl(ep, 50)
	require.NotEmpty(t, out)
	for _, r := range out {
		assert.Contains(t, r.(map[string]any)["reasonCode"], "attachment")
	}

	_, body := h.post(ep.path, apiBody(nil, "", map[string]any{"admin": true, "filterBy": []any{map[string]any{"fieldName": "colour", "value": "red"}}}))
	assert.Len(t, body["fail"], 1)
}

func TestHoldListHonoursStartAndEnd(t *testing.T) {
	h := newFakeHarness(t, Options{})
	now := h.clock.Now()
	item := map[string]any{"admin": true, "start": now.Add(-24 * 3600e9).Format("2006-01-02T15:04:05-0700"), "end": now.Format("2006-01-02T15:04:05Z07:00")}
	all, total := h.crawl(listEndpoint{path: "/api/gateway/get-hold-message-list", item: item, records: flatRecords}, 100)
	require.Len(t, all, total)
	assert.InDelta(t, 33, total, 3, "a day of a 72 h backlog of 100")
}

func TestHeldReleaseLogsMatchTheNotesShape(t *testing.T) {
	h := newFakeHarness(t, Options{})
	_, body := h.post("/api/gateway/get-held-release-logs", apiBody(30, "", nil))
	recs := namedRecords("heldReleaseLogs")(t, requireEnvelope(t, body, true))
	require.Len(t, recs, 30, "the default window (one month) covers the backlog")
	statuses := map[string]bool{}
	for _, r := range recs {
		m := requireShape(t, r, shape{
			"id": "string", "status": "string", "rejectReason": "?string", "heldReason": "string", "messageInfo": "string",
			"released": "time", "operator": "object", "fromEnv": "object", "fromHdr": "object", "to": "array",
			"subject": "string", "attachments": "bool", "route": "string", "size": "number", "policy": "string",
			"spamScore": "number", "detectionLevel": "string", "spamProcessingDetail": "object",
		})
		requireShape(t, m["operator"], shape{"emailAddress": "string"})
		requireShape(t, m["to"].([]any)[0], shape{"emailAddress": "string"})
		spd := requireShape(t, m["spamProcessingDetail"], shape{"rbl": "object", "spf": "object", "dkim": "object",
			"dmarc": "object", "permittedSender": "object", "managedSender": "object", "verdict": "object"})
		requireShape(t, spd["spf"], shape{"allow": "bool", "info": "string"})
		requireShape(t, spd["verdict"], shape{"decision": "string", "description": "string", "risk": "string", "categories": "array"})
		statuses[m["status"].(string)] = true
	}
	assert.Equal(t, map[string]bool{"released": true, "rejected": true}, statuses)
}

func TestHeldReleaseLogsFilterByStatus(t *testing.T) {
	h := newFakeHarness(t, Options{})
	ep := listEndpoint{path: "/api/gateway/get-held-release-logs", records: namedRecords("heldReleaseLogs"),
		item: map[string]any{"filterBy": []any{map[string]any{"fieldName": "status", "value": "rejected"}}}}
	out, total := h.crawl(ep, 10)
	require.NotEmpty(t, out)
	require.Len(t, out, total)
	for _, r := range out {
		assert.Equal(t, "rejected", r.(map[string]any)["status"])
	}
}
