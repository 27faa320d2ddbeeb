package mimecast

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixtureData returns the data member of an /api/* envelope fixture.
func fixtureData(t *testing.T, name string) json.RawMessage {
	t.Helper()
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(readFixture(t, name), &env))
	return env.Data
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestURLClicksDecodeFromRealShape(t *testing.T) {
	clicks, err := decodeURLClicks(fixtureData(t, "ttp_url_logs.json"), false)
	require.NoError(t, err)
	require.Len(t, clicks, 2)

	c := clicks[0]
	require.NoError(t, c.Err)
	assert.Equal(t, "alice@corp.example", c.UserEmailAddress)
	assert.Equal(t, "https://bad.example/x.exe", c.URL)
	assert.Equal(t, "block", c.Action)
	assert.Equal(t, "malicious", c.ScanResult)
	assert.Equal(t, []string{"Attachment"}, c.EmailPartsDescription)
	assert.Equal(t, []string{"CustomerSpecific", "VerdictBlock"}, c.TagMap["DangerousFileExt"]["Status"])
	assert.Equal(t, utc("2024-11-14T19:44:02Z"), c.EventTime().UTC())
	assert.Equal(t, "<abc@ext.example>", c.MessageID())
	assert.Len(t, c.ID(), 64)
	assert.Contains(t, string(c.RawJSON()), `"ttpDefinition"`)

	assert.Equal(t, "inbound", clicks[1].Route, "route is lower-cased")
	assert.Equal(t, "Internal IP", clicks[1].SendingIP)
	assert.NotEqual(t, clicks[0].ID(), clicks[1].ID())
}

func TestURLClickVariantsKeepGoodRecordsAndFlagBadOnes(t *testing.T) {
	clicks, err := decodeURLClicks(fixtureData(t, "ttp_url_logs_variants.json"), false)
	require.NoError(t, err, "bad records never fail the page")
	require.Len(t, clicks, 4)

	v := clicks[0]
	require.NoError(t, v.Err)
	assert.Equal(t, "outbound", v.Route)
	assert.Equal(t, []string{"Body"}, v.EmailPartsDescription, "a string where a list belongs")
	assert.Equal(t, "12345", v.MessageID(), "a number where a string belongs")
	assert.Equal(t, []string{"Single"}, v.TagMap["Foo"]["Status"])

	assert.ErrorIs(t, clicks[1].Err, errNotObject)
	assert.Equal(t, `"this element is not an object"`, string(clicks[1].Raw))

	require.Error(t, clicks[2].Err, "an unparseable date")
	assert.Contains(t, clicks[2].Err.Error(), "yesterday-ish")
	assert.Contains(t, string(clicks[2].Raw), "dave@corp.example")

	require.NoError(t, clicks[3].Err)
	assert.Equal(t, utc("2024-11-14T19:44:02Z"), clicks[3].EventTime(), "epoch milliseconds")
}

func TestAttachmentVerdictTreatsSafeAsClean(t *testing.T) {
	logs, err := decodeAttachmentLogs(fixtureData(t, "ttp_attachment_logs.json"), false)
	require.NoError(t, err)
	require.Len(t, logs, 3)
	for _, l := range logs {
		require.NoError(t, l.Err)
	}
	assert.Equal(t, "malicious", logs[0].Verdict())
	assert.True(t, logs[0].Malicious())
	assert.Equal(t, "safe", logs[1].Result, "the field keeps what Mimecast sent")
	assert.Equal(t, "clean", logs[1].Verdict())
	assert.Equal(t, "clean", logs[2].Verdict())
	assert.False(t, logs[1].Malicious())
	assert.Equal(t, "inbound", logs[1].Route)
	assert.Equal(t, "<m1@ext.example>", logs[0].MessageID())
	assert.Equal(t, utc("2024-11-13T10:00:00.123Z"), logs[2].EventTime())
}

func TestImpersonationLogsKeepIDAndCountAndCoerceStrings(t *testing.T) {
	data := fixtureData(t, "ttp_impersonation_logs.json")
	logs, err := decodeImpersonationLogs(data, false)
	require.NoError(t, err)
	require.Len(t, logs, 2)
	assert.Equal(t, 36, wrapperInt(data, false, "resultCount"))

	a := logs[0]
	assert.Equal(t, "MTOKEN:eNqrVkrOLypRsjI0NjEyMjIwMDQ", a.ID())
	assert.True(t, a.TaggedMalicious)
	require.Len(t, a.ImpersonationResults, 1)
	assert.Equal(t, "hit", a.ImpersonationResults[0].CheckerResult)
	assert.Equal(t, utc("2021-11-12T15:30:15Z"), a.EventTime())

	b := logs[1]
	require.NoError(t, b.Err)
	assert.Equal(t, 2, b.Hits)
	assert.Equal(t, []string{"newly_observed_domain"}, b.Identifiers)
	assert.True(t, b.TaggedExternal)
	assert.False(t, b.TaggedMalicious)
	assert.Len(t, b.ID(), 64, "no id: content hash")
}

func TestHoldListIsAFlatListWithUpperCaseRoutes(t *testing.T) {
	held, err := decodeHeldMessages(fixtureData(t, "gateway_hold_list.json"), false)
	require.NoError(t, err)
	require.Len(t, held, 2)
	a, b := held[0], held[1]
	assert.Equal(t, "eNpVzskOgjAUBdA_", a.ID())
	assert.Equal(t, "inbound", a.Route)
	assert.Equal(t, "alice@corp.example", a.To.EmailAddress)
	assert.Equal(t, int64(7543), a.Size)
	assert.Equal(t, utc("2022-08-01T13:10:54Z"), a.EventTime())

	require.NoError(t, b.Err)
	assert.Equal(t, "y@ext.example", b.From.EmailAddress, "a bare address string")
	assert.True(t, b.HasAttachments)
	assert.Equal(t, int64(120034), b.Size)
	assert.Equal(t, "outbound", b.Route)
}

func TestHeldReleaseLogsDecode(t *testing.T) {
	logs, err := decodeHeldReleaseLogs(fixtureData(t, "gateway_held_release_logs.json"), false)
	require.NoError(t, err)
	require.Len(t, logs, 2)
	assert.Equal(t, "released", logs[0].Status)
	assert.Equal(t, "admin@corp.example", logs[0].Operator.EmailAddress)
	assert.Equal(t, utc("2024-11-14T10:00:00Z"), logs[0].EventTime())
	assert.Contains(t, string(logs[0].SpamProcessingDetail), `"verdict"`)

	r := logs[1]
	require.NoError(t, r.Err)
	assert.Equal(t, "rejected", r.Status)
	assert.Equal(t, "inbound", r.Route)
	assert.Equal(t, 9, r.SpamScore)
	require.Len(t, r.To, 1, "one object where a list belongs")
	assert.Equal(t, "bob@corp.example", r.To[0].EmailAddress)
}

func TestThreatEventsAcceptEveryGuessedShape(t *testing.T) {
	tests := []struct {
		file     string
		ids      []string
		next     string
		firstAt  time.Time
		analysis []string
	}{
		{"threats_events_data_next.json", []string{"evt-1", "evt-2"}, "cursor-2", utc("2025-01-10T09:00:00Z"), []string{"phishing"}},
		{"threats_events_events_atnext.json", []string{"evt-3"}, "cursor-3", time.UnixMilli(1736499900000).UTC(), []string{"spam"}},
		{"threats_events_meta_next.json", []string{"evt-4"}, "cursor-4", utc("2025-01-10T10:00:00Z"), nil},
		{"threats_events_nextpage.json", []string{"evt-5"}, "cursor-5", utc("2025-01-10T11:00:00Z"), nil},
		{"threats_events_empty.json", nil, "", time.Time{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, err := decodeThreatEventsBody(readFixture(t, tt.file), false)
			require.NoError(t, err)
			var ids []string
			for _, e := range p.Items {
				require.NoError(t, e.Err)
				ids = append(ids, e.ID())
			}
			assert.Equal(t, tt.ids, ids)
			assert.Equal(t, tt.next, p.Next, "an empty page ends the list whatever the cursor")
			if len(p.Items) > 0 {
				assert.Equal(t, tt.firstAt, p.Items[0].EventTime())
				assert.Equal(t, tt.analysis, []string(p.Items[0].Analysis))
			}
		})
	}
}

func TestThreatEventFieldsAndFallbackTime(t *testing.T) {
	p, err := decodeThreatEventsBody(readFixture(t, "threats_events_data_next.json"), false)
	require.NoError(t, err)
	a, b := p.Items[0], p.Items[1]
	assert.Equal(t, "<p1@bad.example>", a.MessageID())
	assert.Equal(t, "phish@bad.example", a.Sender.EmailAddress)
	require.Len(t, a.Recipients, 1)
	assert.Equal(t, "alice@corp.example", a.Recipients[0].EmailAddress)
	assert.Equal(t, utc("2025-01-10T09:05:00Z"), b.EventTime(), "eventTime when timestamp is absent")
	assert.Equal(t, []string{"malware"}, []string(b.Analysis))
	assert.Equal(t, "bob@corp.example", b.Recipients[0].EmailAddress)
}

func TestThreatEventsRejectNonObjectBody(t *testing.T) {
	_, err := decodeThreatEventsBody([]byte(`[1,2]`), false)
	require.Error(t, err)
}

func TestDirectoryDecode(t *testing.T) {
	domains, err := decodeInternalDomains(fixtureData(t, "domain_internal.json"), false)
	require.NoError(t, err)
	require.Len(t, domains, 2)
	assert.Equal(t, "corp.example", domains[0].Domain)
	assert.True(t, domains[1].SendOnly)
	assert.Equal(t, "eNoVzbsOgjAUAOB_2", domains[1].ID())

	data := fixtureData(t, "user_internal_users.json")
	users, err := decodeInternalUsers(data, false)
	require.NoError(t, err)
	require.Len(t, users, 3)
	assert.Equal(t, 6, wrapperInt(data, false, "userCount"))
	assert.Equal(t, "alice@corp.example", users[0].ID(), "users are identified by address")
	assert.False(t, users[1].Alias)
	assert.Len(t, users[2].ID(), 64, "no address: content hash")
}

func TestArchiveSearchAcceptsWrappedAndFlatData(t *testing.T) {
	wrapped, err := decodeArchiveItems(fixtureData(t, "archive_search_wrapped.json"), false)
	require.NoError(t, err)
	require.Len(t, wrapped, 2)
	assert.Equal(t, "eNo1jt0KgjAA", wrapped[0].ID())
	assert.Equal(t, "bob@corp.example", wrapped[0].DisplayToAddressList[0].EmailAddress)
	assert.Equal(t, utc("2023-08-06T07:23:00Z"), wrapped[0].EventTime())
	require.NoError(t, wrapped[1].Err)
	assert.Equal(t, int64(512), wrapped[1].Size)
	assert.Equal(t, "alice@corp.example", wrapped[1].DisplayToAddressList[0].EmailAddress)

	flat, err := decodeArchiveItems(fixtureData(t, "archive_search_flat.json"), false)
	require.NoError(t, err)
	require.Len(t, flat, 2)
	assert.Equal(t, "Flat two", flat[1].Subject)
	assert.Equal(t, "eNo1jt0KgjAD", flat[1].ID())
}

func TestArchiveMessageListDecode(t *testing.T) {
	msgs, err := decodeArchiveMessages(fixtureData(t, "archive_message_list.json"), false)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	assert.Equal(t, "X", msgs[0].From.DisplayableName)
	assert.Equal(t, int64(2000), msgs[1].Size)
	assert.Equal(t, 2, msgs[1].AttachmentCount)
	assert.Equal(t, "y@ext.example", msgs[1].From.EmailAddress)
	assert.Equal(t, "alice@corp.example", msgs[1].To[0].EmailAddress)

	wrapped, err := decodeArchiveMessages(json.RawMessage(`[{"messages":[{"id":"w-1"}]}]`), false)
	require.NoError(t, err)
	require.Len(t, wrapped, 1)
	assert.Equal(t, "w-1", wrapped[0].ID())
}

func TestMessageDetailDecode(t *testing.T) {
	elems, err := flatList(fixtureData(t, "archive_message_detail.json"), false)
	require.NoError(t, err)
	d, err := decodeObject[MessageDetail](elems[0])
	require.NoError(t, err)
	assert.Equal(t, "<q3@corp.example>", d.MessageID())
	assert.True(t, d.HasHTMLBody)
	require.Len(t, d.Attachments, 1)
	assert.Equal(t, "att-1", d.Attachments[0].ID)
	assert.Equal(t, utc("2023-08-06T07:22:58Z"), d.HeaderDate.UTC(), "RFC 1123 header date")
	assert.Equal(t, []string{"one"}, d.Headers[1].Values)
	assert.Equal(t, "bob@corp.example", d.To[0].EmailAddress)

	_, err = decodeObject[MessageDetail](json.RawMessage(`"nope"`))
	require.Error(t, err, "a single object that cannot be decoded is the call's error")
}

func TestMessageFinderDecode(t *testing.T) {
	hits, err := decodeTrackedEmails(fixtureData(t, "message_finder_search.json"), false)
	require.NoError(t, err)
	require.Len(t, hits, 1)
	assert.Equal(t, "eNpNkMtOwzAQRfd", hits[0].ID())
	assert.Equal(t, "a@ext.example", hits[0].FromEnv.EmailAddress)
	assert.Equal(t, 2, hits[0].SpamScore)

	elems, err := flatList(fixtureData(t, "message_finder_info.json"), false)
	require.NoError(t, err)
	info, err := decodeObject[MessageInfo](elems[0])
	require.NoError(t, err)
	assert.Equal(t, []string{"alice@corp.example", "bob@corp.example"}, info.Recipients())
	alice := info.DeliveredMessage["alice@corp.example"]
	assert.Equal(t, "Default Inbound URL Protect Definition", alice.PolicyInfo[0].PolicyName)
	assert.Contains(t, string(alice.DeliveryMetaInfo), "Routing Rule")
	assert.Equal(t, "us-mta-637.us.mimecast.lan", info.RecipientInfo.RecipientMetaInfo.ProcessingServer)
	assert.Equal(t, utc("2022-07-18T13:25:02Z"), info.EventTime())
	assert.Contains(t, string(info.SpamInfo.SpamProcessingDetail), "greyEmail")
}

func TestAccountDecode(t *testing.T) {
	elems, err := flatList(fixtureData(t, "account.json"), false)
	require.NoError(t, err)
	a, err := decodeObject[Account](elems[0])
	require.NoError(t, err)
	assert.Equal(t, "CUSA12345", a.AccountCode)
	assert.True(t, a.Archive)
	assert.Equal(t, 250, a.UserCount)
	assert.True(t, a.HasPackage("impersonation protection"))
	assert.False(t, a.HasPackage("Secure Messaging"))
}

func TestWrappedListToleratesMissingKeyAndRejectsWrongShape(t *testing.T) {
	got, err := decodeURLClicks(json.RawMessage(`[{}]`), false)
	require.NoError(t, err)
	assert.Empty(t, got, "Mimecast leaves empty lists out")

	got, err = decodeURLClicks(json.RawMessage(`{"clickLogs":[{"url":"u"}]}`), false)
	require.NoError(t, err)
	assert.Len(t, got, 1, "a bare wrapper object")

	_, err = decodeURLClicks(json.RawMessage(`[{"clickLogs":{"url":"u"}}]`), false)
	require.Error(t, err)
	_, err = decodeURLClicks(json.RawMessage(`"x"`), false)
	require.Error(t, err)
}

func TestSIEMBatchListDropsRepeatedURLs(t *testing.T) {
	list, err := decodeSIEMBatchList(readFixture(t, "siem_batch_list.json"))
	require.NoError(t, err)
	require.Len(t, list.Files, 2)
	assert.Contains(t, list.Files[0].URL, "a.json.gz")
	assert.Contains(t, list.Files[1].URL, "b.json.gz")
	assert.Equal(t, int64(1024), list.Files[1].Size)
	assert.Equal(t, utc("2024-06-05T11:50:06.389Z"), list.Files[0].Expiry.Time)
	assert.Equal(t, 1, list.DuplicateURLs)
	assert.Equal(t, "NDU1NA==", list.NextPage)
	assert.False(t, list.IsCaughtUp)

	last, err := decodeSIEMBatchList(readFixture(t, "siem_batch_list_caught_up.json"))
	require.NoError(t, err)
	assert.Empty(t, last.Files)
	assert.True(t, last.IsCaughtUp)
	assert.Equal(t, "tokenNextPageLast==", last.NextPage, "the cursor is kept on the last page")
}

func TestSIEMStreamFoldsEventTypeAndReadsNextLink(t *testing.T) {
	p, err := decodeSIEMStreamPage(readFixture(t, "siem_stream.json"))
	require.NoError(t, err)
	require.Len(t, p.Events, 2)
	e := p.Events[0]
	assert.Equal(t, "url protect", e.Type)
	assert.Equal(t, "Block", e.Subtype, "subType")
	assert.Equal(t, time.UnixMilli(1731454605992).UTC(), e.EventTime())
	assert.Equal(t, "<s1@ext.example>", e.MessageID())
	assert.Equal(t, time.UnixMilli(1731454606000).UTC(), p.Events[1].EventTime(), "epoch ms as a string")
	assert.Equal(t, "stream-next", p.NextPage)
	assert.False(t, p.IsCaughtUp)

	bare, err := decodeSIEMStreamPage([]byte(`{"value":[],"@nextLink":"tok","isCaughtUp":"true"}`))
	require.NoError(t, err)
	assert.Equal(t, "tok", bare.NextPage)
	assert.True(t, bare.IsCaughtUp)
}

func TestSIEMEventLineDecode(t *testing.T) {
	lines := readFixture(t, "siem_events.ndjson")
	r := NewNDJSONReader(bytesReader(lines), 0)
	var events []SIEMEvent
	for {
		line, err := r.Next()
		if err != nil {
			break
		}
		events = append(events, decodeRecord[SIEMEvent](line))
	}
	require.Len(t, events, 3)
	rcpt := events[0]
	require.NoError(t, rcpt.Err)
	assert.Equal(t, "receipt", rcpt.Type)
	assert.Equal(t, "Rej", rcpt.Subtype)
	assert.Empty(t, rcpt.MessageID(), "messageId null")
	assert.Equal(t, int64(70936), rcpt.Offset)
	assert.Equal(t, ContentHash(rcpt.Raw), rcpt.ID())

	require.NoError(t, events[1].Err, "an unexpected list in an untyped field is fine")
	assert.Equal(t, "https://bad.example/", events[1].URL)
	require.NoError(t, events[2].Err)
	assert.Equal(t, "true", events[2].VirusFound, "a boolean where the files usually put a string")
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func TestThreatEventTakesFlatSenderAndRecipientAddresses(t *testing.T) {
	page, err := decodeThreatEventsBody(json.RawMessage(`{"data":[{"id":"e1","timestamp":"2024-06-05T11:50:06.389Z","senderAddress":"a@ext.example","recipientAddress":"b@corp.example"}]}`), false)
	require.NoError(t, err)
	events := page.Items
	require.Len(t, events, 1)
	assert.Equal(t, "a@ext.example", events[0].Sender.EmailAddress)
	require.Len(t, events[0].Recipients, 1)
	assert.Equal(t, "b@corp.example", events[0].Recipients[0].EmailAddress)
}

// A large page is decoded by several goroutines; the records keep the page's order, a bad one
// stays in its place, and every id is the content hash of its own bytes.
func TestLargePageDecodesInOrderAcrossGoroutines(t *testing.T) {
	const n = 1000
	var b strings.Builder
	b.WriteString(`[{"clickLogs":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if i == 517 {
			b.WriteString(`"not an object"`)
			continue
		}
		fmt.Fprintf(&b, `{"url":"https://e.example/%d","date":"2026-11-23T10:00:00+0000"}`, i)
	}
	b.WriteString(`]}]`)
	clicks, err := decodeURLClicks(json.RawMessage(b.String()), false)
	require.NoError(t, err)
	require.Len(t, clicks, n)
	for i, c := range clicks {
		if i == 517 {
			assert.Error(t, c.DecodeErr())
			assert.Equal(t, ContentHash([]byte(`"not an object"`)), c.ID())
			continue
		}
		require.NoError(t, c.DecodeErr(), i)
		assert.Equal(t, fmt.Sprintf("https://e.example/%d", i), c.URL, i)
		assert.Equal(t, ContentHash(c.Raw), c.ID(), i)
	}
}
