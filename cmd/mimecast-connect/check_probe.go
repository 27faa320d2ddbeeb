package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// componentFeatures is what a component's config turns on, as far as the calls it makes go.
type componentFeatures struct {
	feeds              []string // mimecast_threats
	siemTypes          []string
	contentView        bool
	lookups            []string // mimecast_enrich
	extractAttachments bool     // mimecast_archive
}

// probe is the one call check makes for one endpoint, on behalf of every feature that needs it.
type probe struct {
	endpoint string
	features []string
}

// probeOrder is the order calls are made in: the directory before the archive search that
// names one of its mailboxes.
var probeOrder = []string{
	epThreatEvents, epURLLogs, epAttachmentLogs, epImpersonationLogs, epHoldList, epHeldReleaseLogs,
	epSIEMBatch, epInternalDomains, epInternalUsers, epMessageFinder, epMessageInfo, epArchiveSearch,
	epMessageDetail, epMessagePart,
}

// contentEndpoints are the calls of an archived-content lookup (mimecast.ArchivedContent):
// Message Finder, then the message's details, an archive search when the tracking id is not
// an archive id, and the body parts.
var contentEndpoints = []string{epMessageFinder, epMessageDetail, epArchiveSearch, epMessagePart}

// planProbes lists the calls for a component's features, one per endpoint.
func planProbes(kind string, f componentFeatures) []probe {
	need := map[string][]string{}
	add := func(feature string, endpoints ...string) {
		for _, ep := range endpoints {
			if !slices.Contains(need[ep], feature) {
				need[ep] = append(need[ep], feature)
			}
		}
	}
	switch kind {
	case kindThreats:
		for _, feed := range f.feeds {
			switch feed {
			case "threat_events":
				add(feed, epThreatEvents)
			case "url_protect":
				add(feed, epURLLogs)
			case "attachment_protect":
				add(feed, epAttachmentLogs)
			case "impersonation_protect":
				add(feed, epImpersonationLogs)
			case "held_messages":
				add(feed, epHoldList, epHeldReleaseLogs)
			case "siem":
				add(feed, epSIEMBatch)
			}
		}
		if f.contentView {
			add("content_view", contentEndpoints...)
		}
	case kindEnrich:
		for _, l := range f.lookups {
			switch l {
			case "tracking":
				add(l, epMessageFinder)
			case "message_info":
				add(l, epMessageFinder, epMessageInfo)
			case "content":
				add(l, contentEndpoints...)
			}
		}
	case kindArchive:
		add("directory", epInternalDomains, epInternalUsers)
		add("archive search", epArchiveSearch)
		content := "content"
		if f.extractAttachments {
			// Attachments are cut out of the RFC 822 message: no call of their own.
			content = "content, attachments"
		}
		add(content, epMessagePart)
	}
	var out []probe
	for _, ep := range probeOrder {
		if fs, ok := need[ep]; ok {
			out = append(out, probe{endpoint: ep, features: fs})
		}
	}
	return out
}

// probeState carries what one call learnt to a later one.
type probeState struct {
	now      time.Time
	siemType string
	domain   string
	mailbox  string
}

// Ids check asks for that no message has: content and message-info calls use them, so that a
// check never opens a real email (which Mimecast would log as a content view). The endpoint
// answering "not found" proves the permission; a refusal would have come first.
const (
	probeMessageID  = "<mimecast-connect-check@invalid>"
	probeRecordID   = "mimecast-connect-check"
	probeSearchNote = "mimecast-connect check"
)

// probeWindow is the time range list calls ask about: short, so every call is cheap.
const probeWindow = time.Hour

// callProbe makes the call for endpoint. note says what the call showed beyond "ok".
func callProbe(ctx context.Context, c *mimecast.Client, endpoint string, st *probeState) (note string, err error) {
	from, to := st.now.Add(-probeWindow), st.now
	switch endpoint {
	case epThreatEvents:
		_, err = c.ThreatEventsPage(ctx, mimecast.ThreatEventsRequest{Start: from, End: to}, "")
	case epURLLogs:
		_, err = c.URLClickLogsPage(ctx, mimecast.URLLogsRequest{From: from, To: to}, "")
	case epAttachmentLogs:
		_, err = c.AttachmentLogsPage(ctx, mimecast.AttachmentLogsRequest{From: from, To: to}, "")
	case epImpersonationLogs:
		_, err = c.ImpersonationLogsPage(ctx, mimecast.ImpersonationLogsRequest{From: from, To: to}, "")
	case epHoldList:
		_, err = c.HeldMessagesPage(ctx, mimecast.HoldListRequest{Start: from, End: to}, "")
	case epHeldReleaseLogs:
		_, err = c.HeldReleaseLogsPage(ctx, mimecast.HeldReleaseLogsRequest{Start: from, End: to}, "")
	case epSIEMBatch:
		_, err = c.SIEMBatchFilesPage(ctx, mimecast.SIEMBatchRequest{Type: st.siemType, Start: from}, "")
		if err == nil {
			note = "asked for SIEM type " + st.siemType + " (the permission covers every type)"
		}
	case epInternalDomains:
		var page mimecast.Page[mimecast.InternalDomain]
		if page, err = c.InternalDomainsPage(ctx, ""); err == nil {
			for _, d := range page.Items {
				if d.DecodeErr() == nil && d.Domain != "" {
					st.domain = d.Domain
					break
				}
			}
		}
	case epInternalUsers:
		var page mimecast.UsersPage
		if page, err = c.InternalUsersPage(ctx, mimecast.InternalUsersRequest{Domain: st.domain}, ""); err == nil {
			for _, u := range page.Items {
				if u.DecodeErr() == nil && !u.Alias && u.EmailAddress != "" {
					st.mailbox = u.EmailAddress
					break
				}
			}
		}
	case epMessageFinder:
		_, err = c.SearchMessages(ctx, mimecast.MessageSearchRequest{
			Start: st.now.Add(-24 * time.Hour), End: st.now, MessageID: probeMessageID, SearchReason: probeSearchNote,
		})
	case epMessageInfo:
		_, err = c.GetMessageInfo(ctx, probeRecordID)
		return unknownIDOutcome(err)
	case epArchiveSearch:
		// The crawler searches one mailbox at a time; with the directory's first mailbox the
		// check asks the same question, else an admin search of the whole archive.
		q := mimecast.ArchiveQuery{From: from, To: to, PageSize: 1}
		if st.mailbox != "" {
			q.Mailboxes = []string{st.mailbox}
		}
		_, err = c.ArchiveSearchPage(ctx, mimecast.ArchiveSearchRequest{Admin: true, Query: q.XML()}, "")
	case epMessageDetail:
		_, err = c.GetMessageDetail(ctx, probeRecordID)
		return unknownIDOutcome(err)
	case epMessagePart:
		var body io.ReadCloser
		body, _, err = c.GetMessagePart(ctx, mimecast.MessagePartRequest{ID: probeRecordID, Type: mimecast.PartPlain})
		if err == nil {
			_ = body.Close()
		}
		return unknownIDOutcome(err)
	}
	return note, err
}

// unknownIDOutcome reads the answer to a call about an id that does not exist. Mimecast checks
// the token and the application's permissions before the function runs, so a function-level
// failure (a fail[] entry such as err_message_not_found, HTTP 200 or 400) means the call was
// allowed.
func unknownIDOutcome(err error) (string, error) {
	if err == nil || errors.Is(err, mimecast.ErrNoData) {
		return "", nil
	}
	var apiErr *mimecast.APIError
	if errors.As(err, &apiErr) && !apiErr.Forbidden() && !apiErr.Unauthorized() && len(apiErr.Codes) > 0 &&
		(apiErr.StatusCode == http.StatusOK || apiErr.StatusCode == http.StatusBadRequest) {
		return "allowed (" + strings.Join(apiErr.Codes, ", ") + " for the check's made-up id, as expected)", nil
	}
	return "", err
}
