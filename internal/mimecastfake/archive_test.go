package mimecastfake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/mail"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// searchXML builds an archive search query like xsoar's, for one mailbox (or none) and an
// optional date range.
func searchXML(mailbox string, from, to time.Time) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><xmlquery trace="iql,muse"><metadata query-type="emailarchive" archive="true" active="false" page-size="25" startrow="0">`)
	if mailbox != "" {
		fmt.Fprintf(&b, `<mailboxes><mailbox include-aliases="true">%s</mailbox></mailboxes>`, mailbox)
	}
	b.WriteString(`<smartfolders/><return-fields><return-field>id</return-field><return-field>subject</return-field></return-fields></metadata><muse>`)
	if !from.IsZero() {
		fmt.Fprintf(&b, `<date select="between" from="%s" to="%s"/>`, from.Format(apiTimeLayout), to.Format(apiTimeLayout))
	}
	b.WriteString(`</muse></xmlquery>`)
	return b.String()
}

// searchAll pages an archive search to the end and returns the items in order.
func searchAll(t *testing.T, h *tenantHarness, item map[string]any, size int) []map[string]any {
	t.Helper()
	var out []map[string]any
	token := ""
	for range 1000 {
		env := h.api("/api/archive/search", pageReq(item, size, token))
		require.Empty(t, env["fail"])
		for _, it := range env["data"].([]any)[0].(map[string]any)["items"].([]any) {
			out = append(out, it.(map[string]any))
		}
		if token = nextToken(env); token == "" {
			return out
		}
	}
	t.Fatal("search did not end")
	return nil
}

func TestArchiveSearchItemsHaveTheFixtureShape(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1})
	mb := h.srv.Mailboxes()[0]
	env := h.api("/api/archive/search", pageReq(map[string]any{"admin": true, "query": searchXML(mb, time.Time{}, time.Time{})}, 0, ""))
	data := env["data"].([]any)
	require.Len(t, data, 1)
	wrap := data[0].(map[string]any)
	assert.Contains(t, wrap, "queryDuration")
	items := wrap["items"].([]any)
	require.Len(t, items, 10)
	for _, it := range items {
		item := it.(map[string]any)
		assert.ElementsMatch(t, []string{"id", "subject", "displayfrom", "displayfromaddress", "displayto",
			"displaytoaddresslist", "receiveddate", "size", "attachmentcount", "status", "smash"}, keysOf(item))
		assert.Equal(t, "ARCHIVED", item["status"])
		_, err := time.Parse("2006-01-02T15:04:05-0700", item["receiveddate"].(string))
		assert.NoError(t, err)
		assert.IsType(t, float64(0), item["size"])
		to := item["displaytoaddresslist"].([]any)
		require.NotEmpty(t, to)
		assert.ElementsMatch(t, []string{"displayableName", "emailAddress"}, keysOf(to[0].(map[string]any)))
	}
	assert.Empty(t, nextToken(env))
}

func TestArchiveSearchCanAnswerWithAFlatList(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1, ArchiveSearchFlat: true})
	env := h.api("/api/archive/search", pageReq(map[string]any{"admin": true, "query": searchXML(h.srv.Mailboxes()[0], time.Time{}, time.Time{})}, 0, ""))
	data := env["data"].([]any)
	require.Len(t, data, 10)
	assert.Contains(t, data[0], "receiveddate")
}

func TestAdminSearchPagesCoverEveryMessageOnce(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 3, Sizes: Sizes{Domains: 2, UsersPerDomain: 3, MessagesPerMailbox: 9}})
	items := searchAll(t, h, map[string]any{"admin": true, "query": searchXML("", time.Time{}, time.Time{})}, 7)

	var want []string
	for _, mb := range h.srv.Mailboxes() {
		want = append(want, h.srv.MessageIDs(mb)...)
	}
	var got []string
	for _, it := range items {
		got = append(got, it["id"].(string))
	}
	assert.Len(t, got, 54)
	assert.Equal(t, want, got, "mailbox by mailbox, newest first, each once")
}

func TestSearchNewestFirstWithinAMailbox(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 3})
	items := searchAll(t, h, map[string]any{"admin": true, "query": searchXML(h.srv.Mailboxes()[1], time.Time{}, time.Time{})}, 4)
	require.Len(t, items, 10)
	times := make([]time.Time, len(items))
	for i, it := range items {
		times[i], _ = time.Parse(apiTimeLayout, it["receiveddate"].(string))
	}
	assert.True(t, sort.SliceIsSorted(times, func(i, j int) bool { return times[i].After(times[j]) }))
}

func TestSearchDateRangeKeepsOnlyMessagesInside(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 5, Sizes: Sizes{MessagesPerMailbox: 40}})
	mb := h.srv.Mailboxes()[0]
	from, to := harnessAnchor.Add(-48*time.Hour), harnessAnchor.Add(-24*time.Hour)
	items := searchAll(t, h, map[string]any{"admin": true, "query": searchXML(mb, from, to)}, 5)

	all := searchAll(t, h, map[string]any{"admin": true, "query": searchXML(mb, time.Time{}, time.Time{})}, 100)
	want := 0
	for _, it := range all {
		at, _ := time.Parse(apiTimeLayout, it["receiveddate"].(string))
		if !at.Before(from) && !at.After(to) {
			want++
		}
	}
	require.NotZero(t, want)
	assert.Len(t, items, want)
	for _, it := range items {
		at, _ := time.Parse(apiTimeLayout, it["receiveddate"].(string))
		assert.False(t, at.Before(from) || at.After(to), at)
	}
}

func TestNonAdminSearchWithoutMailboxFindsNothing(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1})
	env := h.api("/api/archive/search", pageReq(map[string]any{"admin": false, "query": searchXML("", time.Time{}, time.Time{})}, 0, ""))
	assert.Empty(t, env["data"].([]any)[0].(map[string]any)["items"])
}

func TestSearchRejectsQueriesItCannotRead(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1})
	for name, item := range map[string]map[string]any{
		"blank":    {"admin": true, "query": ""},
		"not xml":  {"admin": true, "query": "<xmlquery><metadata>"},
		"bad date": {"admin": true, "query": `<xmlquery><muse><date select="between" from="yesterday" to="today"/></muse></xmlquery>`},
	} {
		env := h.api("/api/archive/search", pageReq(item, 0, ""))
		assert.NotEmpty(t, failCode(t, env), name)
	}
}

func TestMessageListSplitsInboxAndSent(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 2, Sizes: Sizes{MessagesPerMailbox: 12}})
	mb := h.srv.Mailboxes()[2]
	ids := map[string]string{}
	for _, view := range []string{"INBOX", "SENT"} {
		token := ""
		for {
			env := h.api("/api/archive/get-message-list", pageReq(map[string]any{"mailbox": mb, "view": view}, 5, token))
			require.Empty(t, env["fail"])
			for _, it := range env["data"].([]any) {
				item := it.(map[string]any)
				assert.ElementsMatch(t, []string{"id", "subject", "size", "received", "from", "to", "attachmentCount", "status"}, keysOf(item))
				from := item["from"].(map[string]any)
				if view == "SENT" {
					assert.Equal(t, mb, from["emailAddress"])
				} else {
					assert.NotEqual(t, mb, from["emailAddress"])
				}
				_, dup := ids[item["id"].(string)]
				assert.False(t, dup)
				ids[item["id"].(string)] = view
			}
			if token = nextToken(env); token == "" {
				break
			}
		}
	}
	assert.Len(t, ids, 12)
	assert.Contains(t, ids, h.srv.MessageIDs(mb)[0])
}

func TestMessageListFailsForAnUnknownMailbox(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 2})
	env := h.api("/api/archive/get-message-list", pageReq(map[string]any{"mailbox": "nobody@nowhere.test"}, 0, ""))
	assert.Equal(t, errCodeMailboxNotFound, failCode(t, env))
	env = h.api("/api/archive/get-message-list", pageReq(map[string]any{"mailbox": h.srv.Mailboxes()[0], "view": "TRASH"}, 0, ""))
	assert.Equal(t, errCodeInvalidValue, failCode(t, env))
}

// messageWithAttachments finds a message of the first mailbox with at least want attachments.
func messageWithAttachments(t *testing.T, h *tenantHarness, want int) string {
	t.Helper()
	for _, id := range h.srv.MessageIDs(h.srv.Mailboxes()[0]) {
		msg, _, ok := h.srv.resolveMessage(id)
		require.True(t, ok)
		if len(msg.atts) >= want {
			return id
		}
	}
	t.Fatalf("no message with %d attachments", want)
	return ""
}

func TestDetailAttachmentsMatchTheFilesAndTheRawMessage(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 4})
	id := messageWithAttachments(t, h, 2)
	env := h.api("/api/archive/get-message-detail", pageReq(map[string]any{"id": id}, 0, ""))
	d := env["data"].([]any)[0].(map[string]any)
	for _, k := range []string{"status", "smash", "mimeMessageId", "hasHtmlBody", "attachments", "received", "replyTo",
		"headerDate", "from", "to", "cc", "envelopeFrom", "headers", "processed", "subject", "size", "id"} {
		assert.Contains(t, d, k)
	}
	assert.Equal(t, id, d["id"])

	resp, raw := h.post("/api/archive/get-message-part", pageReq(map[string]any{"id": id, "type": "RFC822", "context": "RECEIVED"}, 0, ""))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "message/rfc822", resp.Header.Get("Content-Type"))
	assert.EqualValues(t, len(raw), d["size"])
	parsed, err := mail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	assert.Equal(t, d["mimeMessageId"], parsed.Header.Get("Message-ID"))
	leaves := walkParts(t, parsed.Header, parsed.Body)
	byName := map[string][]byte{}
	for _, l := range leaves {
		if l.filename != "" {
			byName[l.filename] = l.body
		}
	}

	atts := d["attachments"].([]any)
	require.Len(t, atts, 2)
	for _, a := range atts {
		att := a.(map[string]any)
		assert.ElementsMatch(t, []string{"contentType", "extension", "contentId", "filename", "bodyType", "sha256", "id", "size"}, keysOf(att))
		resp, file := h.post("/api/archive/get-file", pageReq(map[string]any{"id": att["id"]}, 0, ""))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
		sum := sha256.Sum256(file)
		assert.Equal(t, att["sha256"], hex.EncodeToString(sum[:]))
		assert.EqualValues(t, len(file), att["size"])
		assert.Equal(t, file, byName[att["filename"].(string)], "the MIME part decodes to the same bytes")
	}

	var msgIDHeader []any
	for _, hv := range d["headers"].([]any) {
		if hv.(map[string]any)["name"] == "Received" {
			assert.Len(t, hv.(map[string]any)["values"], 2)
		}
		if hv.(map[string]any)["name"] == "Message-ID" {
			msgIDHeader = hv.(map[string]any)["values"].([]any)
		}
	}
	assert.Equal(t, []any{d["mimeMessageId"]}, msgIDHeader)
}

func TestMessagePartServesDecodedBodies(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 4})
	var plainOnly, withHTML string
	for _, id := range h.srv.MessageIDs(h.srv.Mailboxes()[0]) {
		msg, _, _ := h.srv.resolveMessage(id)
		if msg.variant == variantPlainOnly {
			plainOnly = id
		} else {
			withHTML = id
		}
	}
	resp, body := h.post("/api/archive/get-message-part", pageReq(map[string]any{"id": withHTML, "type": "HTML"}, 0, ""))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, string(body), "<html>")

	resp, body = h.post("/api/archive/get-message-part", pageReq(map[string]any{"id": withHTML, "type": "PLAIN"}, 0, ""))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, string(body), "Hello ")

	env := h.api("/api/archive/get-message-part", pageReq(map[string]any{"id": plainOnly, "type": "HTML"}, 0, ""))
	assert.Equal(t, errCodeMessageNotFound, failCode(t, env))
}

func TestContentEndpointsAnswerUnknownIDsWithAJSONFail(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 4})
	msgID := h.srv.MessageIDs(h.srv.Mailboxes()[0])[0]
	for _, c := range []struct {
		path string
		item map[string]any
	}{
		{"/api/archive/get-message-part", map[string]any{"id": "bm90LWFuLWlk", "type": "RFC822"}},
		{"/api/archive/get-message-detail", map[string]any{"id": "bm90LWFuLWlk"}},
		{"/api/archive/get-file", map[string]any{"id": "bm90LWFuLWlk"}},
		{"/api/archive/get-file", map[string]any{"id": msgID}}, // a message id is not a file id
		{"/api/archive/get-message-part", map[string]any{"type": "RFC822"}},
	} {
		env := h.api(c.path, pageReq(c.item, 0, ""))
		assert.NotEmpty(t, failCode(t, env), c.path)
		assert.Empty(t, env["data"])
	}
}

func TestArchiveIDsAreStableAndBoundToTheSeed(t *testing.T) {
	a := New(Options{Seed: 1, Anchor: harnessAnchor})
	b := New(Options{Seed: 1, Anchor: harnessAnchor})
	c := New(Options{Seed: 2, Anchor: harnessAnchor})
	mb := a.Mailboxes()[0]
	assert.Equal(t, a.MessageIDs(mb), b.MessageIDs(mb))
	id := a.MessageIDs(mb)[0]
	_, _, ok := c.resolveMessage(id)
	assert.False(t, ok, "an id of another tenant must not resolve")

	ref, ok := a.parseArchiveID(a.archiveID(7, 123456, 3))
	require.True(t, ok)
	assert.Equal(t, archiveRef{m: 7, n: 123456, part: 3}, ref)
	tampered := []byte(id)
	tampered[3] ^= 1
	_, ok = a.parseArchiveID(string(tampered))
	assert.False(t, ok)
}

func TestRemovedMailboxLeavesTheArchive(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1})
	mb := h.srv.Mailboxes()[0]
	id := h.srv.MessageIDs(mb)[0]
	require.True(t, h.srv.RemoveMailbox(mb))
	assert.False(t, h.srv.RemoveMailbox(mb))
	assert.NotContains(t, h.srv.Mailboxes(), mb)

	env := h.api("/api/archive/get-message-detail", pageReq(map[string]any{"id": id}, 0, ""))
	assert.Equal(t, errCodeMessageNotFound, failCode(t, env))
	env = h.api("/api/archive/search", pageReq(map[string]any{"admin": true, "query": searchXML(mb, time.Time{}, time.Time{})}, 0, ""))
	assert.Empty(t, env["data"].([]any)[0].(map[string]any)["items"])
}

func TestAddedMessagesArriveNowAndComeFirst(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1})
	mb := h.srv.Mailboxes()[1]
	h.clock.Advance(90 * time.Minute)
	require.NoError(t, h.srv.AddMessages(mb, 3))
	assert.Error(t, h.srv.AddMessages("nobody@nowhere.test", 1))

	since := harnessAnchor.Add(time.Hour)
	items := searchAll(t, h, map[string]any{"admin": true, "query": searchXML(mb, since, h.clock.Now())}, 10)
	require.Len(t, items, 3, "a delta crawl finds exactly the new mail")
	for _, it := range items {
		assert.Equal(t, h.clock.Now().Format(apiTimeLayout), it["receiveddate"])
	}
	assert.Equal(t, items[0]["id"], h.srv.MessageIDs(mb)[0])
	assert.Len(t, h.srv.MessageIDs(mb), 13)
}

func TestAddedMailboxIsListedAndSearchable(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1, Sizes: Sizes{Domains: 1, UsersPerDomain: 2}})
	email, err := h.srv.AddMailbox(h.srv.tenant.domains[0].Name, 4)
	require.NoError(t, err)
	assert.NotContains(t, h.srv.Mailboxes()[:2], email)
	assert.Contains(t, h.srv.Mailboxes(), email)
	_, err = h.srv.AddMailbox("unknown.test", 1)
	assert.Error(t, err)

	env := h.api("/api/user/get-internal-users", pageReq(nil, 0, ""))
	assert.EqualValues(t, 3, env["data"].([]any)[0].(map[string]any)["userCount"])
	items := searchAll(t, h, map[string]any{"admin": true, "query": searchXML(email, time.Time{}, time.Time{})}, 10)
	assert.Len(t, items, 4)
	resp, body := h.post("/api/archive/get-message-part", pageReq(map[string]any{"id": items[0]["id"], "type": "PLAIN"}, 0, ""))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), email)
}

func TestRemovedMessageDisappears(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1})
	mb := h.srv.Mailboxes()[0]
	ids := h.srv.MessageIDs(mb)
	require.True(t, h.srv.RemoveMessage(ids[3]))
	assert.False(t, h.srv.RemoveMessage(ids[3]))
	items := searchAll(t, h, map[string]any{"admin": true, "query": searchXML(mb, time.Time{}, time.Time{})}, 4)
	assert.Len(t, items, 9)
	for _, it := range items {
		assert.NotEqual(t, ids[3], it["id"])
	}
}

func TestArchiveTimesAgreeWithTheTenantClock(t *testing.T) {
	s := New(Options{Seed: 9, Anchor: harnessAnchor})
	s.archive.mu.RLock()
	defer s.archive.mu.RUnlock()
	for m := range s.tenant.mailboxCount() {
		prev := time.Time{}
		for n := range s.opts.Sizes.MessagesPerMailbox {
			at := s.messageTimeLocked(m, n)
			assert.Equal(t, s.tenant.messageReceived(m, n), at)
			assert.False(t, at.Before(prev), "times never decrease with n")
			assert.False(t, at.After(harnessAnchor))
			assert.False(t, at.Before(harnessAnchor.Add(-s.opts.Sizes.Span)))
			prev = at
		}
	}
}

func TestDuplicateAcrossPagesRepeatsTheLastSearchResult(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1})
	item := map[string]any{"admin": true, "query": searchXML(h.srv.Mailboxes()[0], time.Time{}, time.Time{})}
	first := h.api("/api/archive/search", pageReq(item, 4, ""))
	items := first["data"].([]any)[0].(map[string]any)["items"].([]any)
	h.srv.SetFaults(Faults{DuplicateAcrossPages: 1})
	second := h.api("/api/archive/search", pageReq(item, 4, nextToken(first)))
	again := second["data"].([]any)[0].(map[string]any)["items"].([]any)
	require.Len(t, again, 5)
	assert.Equal(t, items[3], again[0])
}
