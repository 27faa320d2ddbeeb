package mimecast

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sentItem decodes the request envelope an /api/* call sent.
func sentItem(t *testing.T, body []byte) (meta Pagination, item map[string]any) {
	t.Helper()
	var env struct {
		Meta struct {
			Pagination Pagination `json:"pagination"`
		} `json:"meta"`
		Data []map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &env))
	if len(env.Data) > 0 {
		item = env.Data[0]
	}
	return env.Meta.Pagination, item
}

func TestURLClickLogsPageSendsFiltersAndSurfacesBadRecords(t *testing.T) {
	r := newEndpointRig(t)
	r.handleJSON(http.MethodPost, PathURLLogs, readFixture(t, "ttp_url_logs_variants.json"))
	from := time.Date(2024, 11, 14, 20, 0, 0, 0, time.FixedZone("CET", 3600))
	p, err := r.client.URLClickLogsPage(t.Context(), URLLogsRequest{From: from, ScanResult: "malicious", OldestFirst: true}, "tok-1")
	require.NoError(t, err)
	require.Len(t, p.Items, 4, "bad records come back with the good ones")
	assert.Empty(t, p.Next, "no next in the fixture")

	var bad int
	for _, c := range p.Items {
		if c.Err != nil {
			bad++
			assert.NotEmpty(t, c.Raw)
		}
	}
	assert.Equal(t, 2, bad)

	reqs := r.requests(PathURLLogs)
	require.Len(t, reqs, 1)
	assert.Equal(t, "Bearer "+endpointRigToken, reqs[0].Auth)
	pag, item := sentItem(t, reqs[0].Body)
	assert.Equal(t, Pagination{PageSize: 100, PageToken: "tok-1"}, pag)
	assert.Equal(t, map[string]any{"from": "2024-11-14T19:00:00+0000", "scanResult": "malicious", "oldestFirst": true}, item)
}

func TestURLClickLogsPageReturnsNextToken(t *testing.T) {
	r := newEndpointRig(t)
	r.handleJSON(http.MethodPost, PathURLLogs, readFixture(t, "ttp_url_logs.json"))
	p, err := r.client.URLClickLogsPage(t.Context(), URLLogsRequest{}, "")
	require.NoError(t, err)
	assert.Len(t, p.Items, 2)
	assert.Equal(t, "eNpVzdEKgjAUBuB3", p.Next)
}

func TestImpersonationLogsPageReportsResultCount(t *testing.T) {
	r := newEndpointRig(t)
	r.handleJSON(http.MethodPost, PathImpersonationLogs, readFixture(t, "ttp_impersonation_logs.json"))
	tagged := true
	p, err := r.client.ImpersonationLogsPage(t.Context(), ImpersonationLogsRequest{TaggedMalicious: &tagged, Identifiers: []string{"internal_user_name"}}, "")
	require.NoError(t, err)
	assert.Len(t, p.Items, 2)
	assert.Equal(t, 36, p.ResultCount)
	assert.Equal(t, "imp-next-1", p.Next)
	_, item := sentItem(t, r.requests(PathImpersonationLogs)[0].Body)
	assert.Equal(t, map[string]any{"taggedMalicious": true, "identifiers": []any{"internal_user_name"}}, item)
}

func TestAttachmentAndHeldFeedsDecodeOverHTTP(t *testing.T) {
	r := newEndpointRig(t)
	r.handleJSON(http.MethodPost, PathAttachmentLogs, readFixture(t, "ttp_attachment_logs.json"))
	r.handleJSON(http.MethodPost, PathHoldMessageList, readFixture(t, "gateway_hold_list.json"))
	r.handleJSON(http.MethodPost, PathHeldReleaseLogs, readFixture(t, "gateway_held_release_logs.json"))

	att, err := r.client.AttachmentLogsPage(t.Context(), AttachmentLogsRequest{Route: "inbound"}, "")
	require.NoError(t, err)
	assert.Len(t, att.Items, 3)

	held, err := r.client.HeldMessagesPage(t.Context(), HoldListRequest{FilterBy: []FieldValue{{"route", "inbound"}}}, "")
	require.NoError(t, err)
	assert.Len(t, held.Items, 2)
	assert.Equal(t, "eNqVkE1PwzAM", held.Next)
	_, item := sentItem(t, r.requests(PathHoldMessageList)[0].Body)
	assert.Equal(t, true, item["admin"], "the hold list is always read org-wide")
	assert.Equal(t, []any{map[string]any{"fieldName": "route", "value": "inbound"}}, item["filterBy"])

	rel, err := r.client.HeldReleaseLogsPage(t.Context(), HeldReleaseLogsRequest{}, "")
	require.NoError(t, err)
	assert.Len(t, rel.Items, 2)
	assert.Empty(t, rel.Next)
}

func TestThreatEventsPageSendsRepeatedFilters(t *testing.T) {
	r := newEndpointRig(t)
	r.handleJSON(http.MethodGet, PathThreatEvents, readFixture(t, "threats_events_data_next.json"))
	start := time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)
	p, err := r.client.ThreatEventsPage(t.Context(), ThreatEventsRequest{
		Start: start, End: start.Add(time.Hour), Analysis: []string{"malware", "phishing"}, Status: []string{"held"}, Source: []string{"email"},
	}, "c-1")
	require.NoError(t, err)
	assert.Len(t, p.Items, 2)
	assert.Equal(t, "cursor-2", p.Next)

	q, err := url.ParseQuery(r.requests(PathThreatEvents)[0].RawQuery)
	require.NoError(t, err)
	assert.Equal(t, url.Values{
		"timestampRangeStartsAt": {"2025-01-10T00:00:00.000Z"},
		"timestampRangeEndsAt":   {"2025-01-10T01:00:00.000Z"},
		"analysis":               {"malware", "phishing"},
		"status":                 {"held"},
		"source":                 {"email"},
		"pageSize":               {"100"},
		"nextPage":               {"c-1"},
	}, q)
}

func TestDirectoryPagesOverHTTP(t *testing.T) {
	r := newEndpointRig(t)
	r.handleJSON(http.MethodPost, PathInternalDomains, readFixture(t, "domain_internal.json"))
	r.handleJSON(http.MethodPost, PathInternalUsers, readFixture(t, "user_internal_users.json"))

	d, err := r.client.InternalDomainsPage(t.Context(), "")
	require.NoError(t, err)
	assert.Len(t, d.Items, 2)
	_, item := sentItem(t, r.requests(PathInternalDomains)[0].Body)
	assert.Nil(t, item, "get-internal-domain takes data:[]")

	u, err := r.client.InternalUsersPage(t.Context(), InternalUsersRequest{Domain: "corp.example"}, "")
	require.NoError(t, err)
	assert.Len(t, u.Items, 3)
	assert.Equal(t, 6, u.UserCount)
	assert.Equal(t, "users-next", u.Next)
	_, item = sentItem(t, r.requests(PathInternalUsers)[0].Body)
	assert.Equal(t, map[string]any{"domain": "corp.example"}, item)
}

func TestArchiveCallsOverHTTP(t *testing.T) {
	r := newEndpointRig(t)
	r.handleJSON(http.MethodPost, PathArchiveSearch, readFixture(t, "archive_search_wrapped.json"))
	r.handleJSON(http.MethodPost, PathArchiveMessageList, readFixture(t, "archive_message_list.json"))
	r.handleJSON(http.MethodPost, PathMessageDetail, readFixture(t, "archive_message_detail.json"))
	r.handle(http.MethodPost, PathMessagePart, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "message/rfc822")
		_, _ = w.Write([]byte("Subject: hi\r\n\r\nbody\r\n"))
	})

	q := ArchiveQuery{Mailboxes: []string{"alice@corp.example"}, Text: "subject: invoice"}.XML()
	s, err := r.client.ArchiveSearchPage(t.Context(), ArchiveSearchRequest{Admin: true, Query: q}, "")
	require.NoError(t, err)
	assert.Len(t, s.Items, 2)
	_, item := sentItem(t, r.requests(PathArchiveSearch)[0].Body)
	assert.Equal(t, map[string]any{"admin": true, "query": q}, item)

	m, err := r.client.ArchiveMessagesPage(t.Context(), ArchiveMessagesRequest{Mailbox: "alice@corp.example", View: ViewInbox}, "")
	require.NoError(t, err)
	assert.Len(t, m.Items, 2)
	assert.Equal(t, "ml-next", m.Next)
	_, item = sentItem(t, r.requests(PathArchiveMessageList)[0].Body)
	assert.Equal(t, map[string]any{"mailbox": "alice@corp.example", "view": "INBOX"}, item, "no nulls are sent")

	d, err := r.client.GetMessageDetail(t.Context(), "eNo1jt0KgjAA")
	require.NoError(t, err)
	assert.Equal(t, "<q3@corp.example>", d.MessageID())
	_, item = sentItem(t, r.requests(PathMessageDetail)[0].Body)
	assert.Equal(t, map[string]any{"id": "eNo1jt0KgjAA"}, item)

	body, ct, err := r.client.GetMessagePart(t.Context(), MessagePartRequest{ID: "eNo1jt0KgjAA", Type: "rfc822", Context: ContextDelivered})
	require.NoError(t, err)
	defer body.Close()
	raw, err := io.ReadAll(body)
	require.NoError(t, err)
	assert.Equal(t, "message/rfc822", ct)
	assert.Equal(t, "Subject: hi\r\n\r\nbody\r\n", string(raw))
	_, item = sentItem(t, r.requests(PathMessagePart)[0].Body)
	assert.Equal(t, map[string]any{"id": "eNo1jt0KgjAA", "type": "RFC822", "context": "DELIVERED"}, item)
}

func TestGetArchiveFileFailureEnvelopeIsAnError(t *testing.T) {
	r := newEndpointRig(t)
	r.handleJSON(http.MethodPost, PathArchiveFile, []byte(`{"meta":{"status":200},"data":[],"fail":[{"key":{"id":"x"},"errors":[{"code":"err_file_not_found","message":"no such file","retryable":false}]}]}`))
	_, _, err := r.client.GetArchiveFile(t.Context(), "x")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.True(t, apiErr.HasCode("err_file_not_found"))
}

func TestMessageFinderAndInfoOverHTTP(t *testing.T) {
	r := newEndpointRig(t)
	r.handleJSON(http.MethodPost, PathMessageFinderSearch, readFixture(t, "message_finder_search.json"))
	r.handleJSON(http.MethodPost, PathMessageInfo, readFixture(t, "message_finder_info.json"))

	hits, err := r.client.SearchMessages(t.Context(), MessageSearchRequest{MessageID: "<m@x>", SearchReason: "SOC triage"})
	require.NoError(t, err)
	require.Len(t, hits.Items, 1)
	_, item := sentItem(t, r.requests(PathMessageFinderSearch)[0].Body)
	assert.Equal(t, map[string]any{"messageId": "<m@x>", "searchReason": "SOC triage"}, item)

	info, err := r.client.GetMessageInfo(t.Context(), hits.Items[0].ID())
	require.NoError(t, err)
	assert.Len(t, info.DeliveredMessage, 2)
}

func TestGetAccountOverHTTP(t *testing.T) {
	r := newEndpointRig(t)
	r.handleJSON(http.MethodPost, PathAccount, readFixture(t, "account.json"))
	a, err := r.client.GetAccount(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "CUSA12345", a.AccountCode)
	assert.NotEmpty(t, a.RawJSON())
}

func TestSingleObjectCallWithEmptyDataIsErrNoData(t *testing.T) {
	r := newEndpointRig(t)
	r.handleJSON(http.MethodPost, PathAccount, []byte(`{"meta":{"status":200},"data":[],"fail":[]}`))
	_, err := r.client.GetAccount(t.Context())
	assert.ErrorIs(t, err, ErrNoData)
}

func TestPageWithUnexpectedDataShapeIsAnError(t *testing.T) {
	r := newEndpointRig(t)
	r.handleJSON(http.MethodPost, PathURLLogs, []byte(`{"meta":{"status":200},"data":[{"clickLogs":"nope"}],"fail":[]}`))
	_, err := r.client.URLClickLogsPage(t.Context(), URLLogsRequest{}, "")
	require.Error(t, err)
}

// A pending page knows its next token and its size before any record is decoded, and decodes
// to what the eager call returns.
func TestPendingPageKnowsNextBeforeDecoding(t *testing.T) {
	r := newEndpointRig(t)
	r.handleJSON(http.MethodPost, PathURLLogs, readFixture(t, "ttp_url_logs.json"))
	pending, err := r.client.URLClickLogsPending(t.Context(), URLLogsRequest{}, "")
	require.NoError(t, err)
	assert.Equal(t, "eNpVzdEKgjAUBuB3", pending.Next)
	assert.Equal(t, 2, pending.Len())
	eager, err := r.client.URLClickLogsPage(t.Context(), URLLogsRequest{}, "")
	require.NoError(t, err)
	assert.Equal(t, eager.Items, pending.Records())
	assert.Equal(t, eager.Items, pending.Records(), "decoding again gives the same records")
}
