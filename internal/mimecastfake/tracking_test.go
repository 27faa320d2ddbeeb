package mimecastfake

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// findMessage searches Message Finder for a Message-ID and returns trackedEmails.
func (h *fakeHarness) findMessage(id string) []any {
	h.t.Helper()
	status, body := h.post("/api/message-finder/search", apiBody(nil, "", map[string]any{"messageId": id, "searchReason": "SOC triage"}))
	require.Equal(h.t, http.StatusOK, status)
	data := requireEnvelope(h.t, body, false)
	require.Len(h.t, data, 1)
	emails, ok := data[0].(map[string]any)["trackedEmails"].([]any)
	require.True(h.t, ok, "data[0].trackedEmails is a list")
	return emails
}

var trackedEmailShape = shape{
	"id": "string", "status": "string", "info": "string", "fromEnv": "object", "fromHdr": "object", "to": "array",
	"received": "time", "sent": "time", "subject": "string", "senderIP": "string", "attachments": "bool",
	"route": "string", "spamScore": "number", "detectionLevel": "string",
}

func TestEveryAlertMessageIsFoundByMessageFinder(t *testing.T) {
	h := newFakeHarness(t, Options{Sizes: Sizes{EventsPerFeed: 60}})
	type alert struct{ messageID, subject, recipient, status string }
	var alerts []alert
	for _, c := range []struct {
		path, list, recipientKey string
	}{
		{"/api/ttp/url/get-logs", "clickLogs", "userEmailAddress"},
		{"/api/ttp/attachment/get-logs", "attachmentLogs", "recipientAddress"},
		{"/api/ttp/impersonation/get-logs", "impersonationLogs", "recipientAddress"},
	} {
		recs, _ := h.crawl(listEndpoint{path: c.path, item: since2020, records: namedRecords(c.list)}, 100)
		for _, r := range recs {
			m := r.(map[string]any)
			status := "delivered"
			if m["action"] == "hold" {
				status = "held"
			} else if m["action"] == "bounce" {
				status = "bounced"
			}
			alerts = append(alerts, alert{m["messageId"].(string), m["subject"].(string), m[c.recipientKey].(string), status})
		}
	}
	_, body := h.get("/threats/v1/events", since(url.Values{"pageSize": {"100"}}))
	for _, e := range body["data"].([]any) {
		m := e.(map[string]any)
		status := map[string]string{"delivered": "delivered", "held": "held", "bounced": "bounced", "blocked": "rejected", "rejected": "rejected"}[m["status"].(string)]
		if m["source"] == "url" {
			status = "delivered"
		}
		alerts = append(alerts, alert{m["messageId"].(string), m["subject"].(string), m["recipientAddress"].(string), status})
	}
	require.Greater(t, len(alerts), 200)

	for _, a := range alerts {
		emails := h.findMessage(a.messageID)
		require.Len(t, emails, 1, "message %s is tracked", a.messageID)
		m := requireShape(t, emails[0], trackedEmailShape)
		assert.Equal(t, a.subject, m["subject"], a.messageID)
		to := m["to"].([]any)[0].(map[string]any)["emailAddress"]
		fromHdr := m["fromHdr"].(map[string]any)["emailAddress"]
		assert.Contains(t, []any{to, fromHdr}, a.recipient, "the alert's user is a party of the message")
		if a.status == "delivered" {
			assert.Contains(t, []string{"delivered", "archived"}, m["status"], a.messageID)
		} else {
			assert.Equal(t, a.status, m["status"], a.messageID)
		}
	}
}

func TestMessageSearchFindsNothingForUnknownIDs(t *testing.T) {
	h := newFakeHarness(t, Options{})
	for _, id := range []string{"<nobody@example.com>", "<0000000000000000.1.1@mail.fake-mimecast.test>", "<1.a81.5@mail.fake-mimecast.test>"} {
		assert.Empty(t, h.findMessage(id), id)
	}
}

func TestMessageSearchHonoursTheWindow(t *testing.T) {
	h := newFakeHarness(t, Options{})
	id := h.srv.tenant.messageID(0, 0) // received near Anchor-Span
	received := h.srv.tenant.messageReceived(0, 0)
	item := func(start time.Time) map[string]any {
		return map[string]any{"messageId": id, "start": start.Format("2006-01-02T15:04:05-0700"), "end": h.clock.Now().Format(time.RFC3339)}
	}
	_, body := h.post("/api/message-finder/search", apiBody(nil, "", item(received.Add(-time.Minute))))
	assert.Len(t, body["data"].([]any)[0].(map[string]any)["trackedEmails"], 1)
	_, body = h.post("/api/message-finder/search", apiBody(nil, "", item(received.Add(time.Minute))))
	assert.Empty(t, body["data"].([]any)[0].(map[string]any)["trackedEmails"])
}

func TestMessageSearchNeedsExactlyOneCriterion(t *testing.T) {
	h := newFakeHarness(t, Options{})
	for name, item := range map[string]map[string]any{
		"neither": {"searchReason": "x"},
		"both":    {"messageId": "<a@b>", "advancedTrackAndTraceOptions": map[string]any{"from": "x"}},
		"empty":   {"advancedTrackAndTraceOptions": map[string]any{}},
	} {
		t.Run(name, func(t *testing.T) {
			status, body := h.post("/api/message-finder/search", apiBody(nil, "", item))
			require.Equal(t, http.StatusOK, status)
			require.Len(t, body["fail"], 1)
		})
	}
}

func TestAdvancedSearchFiltersBySenderAndRoute(t *testing.T) {
	h := newFakeHarness(t, Options{})
	_, body := h.post("/api/message-finder/search", apiBody(nil, "", map[string]any{
		"advancedTrackAndTraceOptions": map[string]any{"from": "external1.example.net", "route": []string{"inbound"}}}))
	emails := body["data"].([]any)[0].(map[string]any)["trackedEmails"].([]any)
	require.NotEmpty(t, emails)
	for _, e := range emails {
		m := requireShape(t, e, trackedEmailShape)
		assert.Contains(t, m["fromEnv"].(map[string]any)["emailAddress"], "external1.example.net")
		assert.Equal(t, "inbound", m["route"])
	}

	_, body = h.post("/api/message-finder/search", apiBody(nil, "", map[string]any{
		"advancedTrackAndTraceOptions": map[string]any{"from": threatSenders[1]}}))
	emails = body["data"].([]any)[0].(map[string]any)["trackedEmails"].([]any)
	require.NotEmpty(t, emails, "alert-only mail is searchable too")
	for _, e := range emails {
		assert.Contains(t, []string{"held", "rejected", "bounced"}, e.(map[string]any)["status"])
	}
}

func TestGetMessageInfoKeysDeliveredMessageByRecipient(t *testing.T) {
	h := newFakeHarness(t, Options{})
	emails := h.findMessage(h.srv.tenant.messageID(2, 3))
	require.Len(t, emails, 1)
	tracked := emails[0].(map[string]any)
	recipient := tracked["to"].([]any)[0].(map[string]any)["emailAddress"].(string)

	status, body := h.post("/api/message-finder/get-message-info", map[string]any{"data": []any{
		map[string]any{"id": tracked["id"]}, map[string]any{"id": "eNpNbogus"}}})
	require.Equal(t, http.StatusOK, status)
	data := body["data"].([]any)
	require.Len(t, data, 1)
	info := requireShape(t, data[0], shape{"id": "string", "status": "string", "recipientInfo": "object",
		"deliveredMessage": "object", "retentionInfo": "object", "spamInfo": "object"})
	assert.Equal(t, tracked["id"], info["id"])
	ri := requireShape(t, info["recipientInfo"], shape{"messageInfo": "object", "recipientMetaInfo": "object"})
	requireShape(t, ri["messageInfo"], shape{"fromHeader": "string", "fromEnvelope": "string", "to": "array", "cc": "array",
		"subject": "string", "sent": "time", "processed": "time", "transmissionInfo": "string"})
	requireShape(t, ri["recipientMetaInfo"], shape{"processingServer": "string", "transmissionSize": "number", "components": "array"})
	delivered := info["deliveredMessage"].(map[string]any)
	require.Contains(t, delivered, recipient)
	requireShape(t, delivered[recipient], shape{"messageInfo": "object", "policyInfo": "array", "deliveryMetaInfo": "object"})
	requireShape(t, info["spamInfo"], shape{"spamScore": "number", "detectionLevel": "string", "spamProcessingDetail": "object"})

	fails := body["fail"].([]any)
	require.Len(t, fails, 1)
	assert.JSONEq(t, `{"id":"eNpNbogus"}`, mustJSON(t, fails[0].(map[string]any)["key"]))
}

func TestTrackedMailIsTheArchivedMessage(t *testing.T) {
	h := newFakeHarness(t, Options{Sizes: Sizes{UsersPerDomain: 3, MessagesPerMailbox: 7}})
	s := h.srv
	s.archive.mu.RLock()
	defer s.archive.mu.RUnlock()
	for m := range s.tenant.mailboxCount() {
		for n := range 7 {
			require.Equal(t, s.messageTimeLocked(m, n), s.tenant.messageReceived(m, n), "receive time of %d/%d", m, n)
			a, b := s.messageLocked(m, n), s.tenant.trackedMail(m, n)
			require.Equal(t, a.msgID, b.msgID)
			require.Equal(t, a.subject, b.subject)
			require.Equal(t, a.from, b.from)
		}
	}
}
