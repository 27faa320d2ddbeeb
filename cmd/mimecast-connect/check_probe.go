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

// probe is the one call check makes for one endpoint, on behalf of every feature that needs it.
type probe struct {
	endpoint string
	features []string
}

// groupCalls makes one probe per endpoint of a component's calls, in the order the component
// lists them (the directory before the archive search that names one of its mailboxes).
func groupCalls(calls []mimecast.Call) []probe {
	var out []probe
	at := map[string]int{}
	for _, c := range calls {
		i, ok := at[c.Endpoint]
		if !ok {
			i = len(out)
			at[c.Endpoint] = i
			out = append(out, probe{endpoint: c.Endpoint})
		}
		if !slices.Contains(out[i].features, c.Feature) {
			out[i].features = append(out[i].features, c.Feature)
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
	probeMessageID  = mimecast.ProbeMessageID
	probeRecordID   = mimecast.ProbeRecordID
	probeSearchNote = "mimecast-connect check"
)

// probeWindow is the time range list calls ask about: short, so every call is cheap.
const probeWindow = time.Hour

// callProbe makes the call for endpoint. note says what the call showed beyond "ok".
func callProbe(ctx context.Context, c *mimecast.Client, endpoint string, st *probeState) (note string, err error) {
	from, to := st.now.Add(-probeWindow), st.now
	switch endpoint {
	case mimecast.PathThreatEvents:
		_, err = c.ThreatEventsPage(ctx, mimecast.ThreatEventsRequest{Start: from, End: to}, "")
	case mimecast.PathURLLogs:
		_, err = c.URLClickLogsPage(ctx, mimecast.URLLogsRequest{From: from, To: to}, "")
	case mimecast.PathAttachmentLogs:
		_, err = c.AttachmentLogsPage(ctx, mimecast.AttachmentLogsRequest{From: from, To: to}, "")
	case mimecast.PathImpersonationLogs:
		_, err = c.ImpersonationLogsPage(ctx, mimecast.ImpersonationLogsRequest{From: from, To: to}, "")
	case mimecast.PathHoldMessageList:
		_, err = c.HeldMessagesPage(ctx, mimecast.HoldListRequest{Start: from, End: to}, "")
	case mimecast.PathHeldReleaseLogs:
		_, err = c.HeldReleaseLogsPage(ctx, mimecast.HeldReleaseLogsRequest{Start: from, End: to}, "")
	case mimecast.PathSIEMBatch:
		_, err = c.SIEMBatchFilesPage(ctx, mimecast.SIEMBatchRequest{Type: st.siemType, Start: from}, "")
		if err == nil {
			note = "asked for SIEM type " + st.siemType + " (the permission covers every type)"
		}
	case mimecast.PathInternalDomains:
		var page mimecast.Page[mimecast.InternalDomain]
		if page, err = c.InternalDomainsPage(ctx, ""); err == nil {
			for _, d := range page.Items {
				if d.DecodeErr() == nil && d.Domain != "" {
					st.domain = d.Domain
					break
				}
			}
		}
	case mimecast.PathInternalUsers:
		var page mimecast.UsersPage
		if page, err = c.InternalUsersPage(ctx, mimecast.InternalUsersRequest{Domain: st.domain}, ""); err == nil {
			for _, u := range page.Items {
				if u.DecodeErr() == nil && !u.Alias && u.EmailAddress != "" {
					st.mailbox = u.EmailAddress
					break
				}
			}
		}
	case mimecast.PathMessageFinderSearch:
		_, err = c.SearchMessages(ctx, mimecast.MessageSearchRequest{
			Start: st.now.Add(-24 * time.Hour), End: st.now, MessageID: probeMessageID, SearchReason: probeSearchNote,
		})
	case mimecast.PathMessageInfo:
		_, err = c.GetMessageInfo(ctx, probeRecordID)
		return unknownIDOutcome(err)
	case mimecast.PathArchiveSearch:
		// The crawler searches one mailbox at a time; with the directory's first mailbox the
		// check asks the same question, else an admin search of the whole archive.
		q := mimecast.ArchiveQuery{From: from, To: to, PageSize: 1}
		if st.mailbox != "" {
			q.Mailboxes = []string{st.mailbox}
		}
		_, err = c.ArchiveSearchPage(ctx, mimecast.ArchiveSearchRequest{Admin: true, Query: q.XML()}, "")
	case mimecast.PathMessageDetail:
		_, err = c.GetMessageDetail(ctx, probeRecordID)
		return unknownIDOutcome(err)
	case mimecast.PathMessagePart:
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
