package mimecast

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// MessageContent is an archived email's headers and bodies, as the threats input's content_view
// and the enrich processor's content lookup attach them.
type MessageContent struct {
	ArchiveID   string          `json:"archive_id"`
	MessageID   string          `json:"message_id"`
	Subject     string          `json:"subject"`
	From        string          `json:"from"`
	To          []string        `json:"to"`
	Cc          []string        `json:"cc,omitempty"`
	Received    time.Time       `json:"received"`
	Headers     []MessageHeader `json:"headers"`
	Text        string          `json:"text,omitempty"`
	HTML        string          `json:"html,omitempty"`
	Truncated   bool            `json:"truncated,omitempty"`
	Attachments []Attachment    `json:"attachments,omitempty"`
}

// ErrMessageNotArchived means Mimecast knows no archived copy of the message.
var ErrMessageNotArchived = errors.New("message not found in the archive")

// MaxContentBodyBytes caps each body attached by ArchivedContent.
const MaxContentBodyBytes = 1 << 20

// ArchivedContent finds the archived copy of the email with RFC 822 Message-ID messageID and
// returns its headers and bodies. Mimecast's archive endpoints take archive ids, not
// Message-IDs, and no public source says whether message-finder ids are archive ids, so this
// tries both: the tracked email's id first, then an archive search of the recipient's mailbox
// around the received time, keeping only a message whose detail carries the same Message-ID.
// A 403 (no Content View permission) is returned as is, so callers can tell it apart.
func (c *Client) ArchivedContent(ctx context.Context, messageID string, window time.Duration) (*MessageContent, error) {
	now := c.cfg.Now()
	found, err := c.SearchMessages(ctx, MessageSearchRequest{
		Start: now.Add(-window), End: now, MessageID: messageID, SearchReason: "mimecast-connect content lookup",
	})
	if err != nil {
		return nil, fmt.Errorf("tracking message %s: %w", messageID, err)
	}
	return c.ArchivedContentOf(ctx, found.Items, messageID)
}

// ArchivedContentByID returns the archived email that Mimecast's own id names: the id a record
// such as a held message carries, which the archive's endpoints take. An id Mimecast does not
// know (HTTP 404, or a fail[] saying the message was not found) is ErrMessageNotArchived; a
// refusal is returned as it came, for the caller to weigh.
func (c *Client) ArchivedContentByID(ctx context.Context, id string) (*MessageContent, error) {
	d, err := c.GetMessageDetail(ctx, id)
	switch {
	case err == nil:
		return c.contentOf(ctx, d)
	case unknownID(err):
		return nil, fmt.Errorf("%w: %w", ErrMessageNotArchived, err)
	}
	return nil, err
}

// ArchivedContentOf is ArchivedContent for a caller that already has the message-finder hits of
// messageID, so the search is not made twice.
func (c *Client) ArchivedContentOf(ctx context.Context, hits []TrackedEmail, messageID string) (*MessageContent, error) {
	for _, t := range hits {
		if t.DecodeErr() != nil {
			continue
		}
		d, err := c.GetMessageDetail(ctx, t.MimecastID)
		switch {
		case err == nil && sameMessageID(d.MimeMessageID, messageID):
			return c.contentOf(ctx, d)
		case err != nil && !unknownID(err):
			// A refusal, or a failure that outlived the retries: not an answer about the
			// message, so no archive search is made in its place.
			return nil, fmt.Errorf("getting the detail of %s: %w", messageID, err)
		}
		d, err = c.searchArchiveFor(ctx, t, messageID)
		if err != nil {
			return nil, err
		}
		if d != nil {
			return c.contentOf(ctx, d)
		}
	}
	return nil, ErrMessageNotArchived
}

// searchArchiveFor looks for the message around its received time in the mailboxes it touched:
// the recipients' (inbound mail) and the sender's (outbound mail is archived in the sender's).
func (c *Client) searchArchiveFor(ctx context.Context, t TrackedEmail, messageID string) (*MessageDetail, error) {
	if t.Received.IsZero() {
		return nil, nil
	}
	var mailboxes []string
	for _, a := range append([]Address{t.FromEnv, t.FromHdr}, t.To...) {
		if a.EmailAddress != "" && !slices.Contains(mailboxes, a.EmailAddress) {
			mailboxes = append(mailboxes, a.EmailAddress)
		}
	}
	if len(mailboxes) == 0 {
		return nil, nil
	}
	q := ArchiveQuery{Mailboxes: mailboxes, From: t.Received.Add(-2 * time.Minute), To: t.Received.Add(2 * time.Minute), PageSize: 25}
	page, err := c.ArchiveSearchPage(ctx, ArchiveSearchRequest{Admin: true, Query: q.XML()}, "")
	if err != nil {
		return nil, fmt.Errorf("searching the archive for %s: %w", messageID, err)
	}
	for _, it := range page.Items {
		if it.DecodeErr() != nil || (t.Subject != "" && it.Subject != t.Subject) {
			continue
		}
		d, err := c.GetMessageDetail(ctx, it.MimecastID)
		if err != nil {
			return nil, fmt.Errorf("reading archived message %s: %w", it.MimecastID, err)
		}
		if sameMessageID(d.MimeMessageID, messageID) {
			return d, nil
		}
	}
	return nil, nil
}

func (c *Client) contentOf(ctx context.Context, d *MessageDetail) (*MessageContent, error) {
	out := &MessageContent{
		ArchiveID: d.MimecastID, MessageID: d.MimeMessageID, Subject: d.Subject, From: d.From.EmailAddress,
		Received: d.Received.Time, Headers: d.Headers, Attachments: d.Attachments,
	}
	for _, a := range d.To {
		out.To = append(out.To, a.EmailAddress)
	}
	for _, a := range d.Cc {
		out.Cc = append(out.Cc, a.EmailAddress)
	}
	var err error
	var truncated bool
	if out.Text, truncated, err = c.readPart(ctx, d.MimecastID, PartPlain); err != nil {
		return nil, err
	}
	out.Truncated = truncated
	if d.HasHTMLBody {
		if out.HTML, truncated, err = c.readPart(ctx, d.MimecastID, PartHTML); err != nil {
			return nil, err
		}
		out.Truncated = out.Truncated || truncated
	}
	return out, nil
}

// readPart reads one body part, capped at MaxContentBodyBytes. A part the message lacks (a
// fail envelope) is an empty body, not an error.
func (c *Client) readPart(ctx context.Context, id, part string) (string, bool, error) {
	body, _, err := c.GetMessagePart(ctx, MessagePartRequest{ID: id, Type: part})
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && unknownID(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("reading %s body of %s: %w", strings.ToLower(part), id, err)
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, MaxContentBodyBytes+1))
	if err != nil {
		return "", false, fmt.Errorf("reading %s body of %s: %w", strings.ToLower(part), id, err)
	}
	if len(b) > MaxContentBodyBytes {
		return string(b[:MaxContentBodyBytes]), true, nil
	}
	return string(b), false, nil
}

func sameMessageID(a, b string) bool {
	return strings.Trim(strings.TrimSpace(a), "<>") == strings.Trim(strings.TrimSpace(b), "<>")
}

// unknownID reports whether err is Mimecast's answer that the function ran and found no such
// message or part: a fail[] entry on HTTP 200, 400 or 404. A refusal (401, 403), a retryable
// failure or a network error is not such an answer.
func unknownID(err error) bool {
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Forbidden() || apiErr.Unauthorized() || apiErr.Retryable {
		return false
	}
	switch apiErr.StatusCode {
	case http.StatusOK, http.StatusBadRequest, http.StatusNotFound:
		return len(apiErr.Codes) > 0 || apiErr.StatusCode == http.StatusNotFound
	}
	return false
}

func isForbidden(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Forbidden()
}

// ProbeRecordID is the made-up id a permission probe asks about: no message has it, so a probe
// never opens a real email (which Mimecast would log as a content view).
const ProbeRecordID = "mimecast-connect-check"

// ProbeMessageID is the Message-ID a probe of Message Finder searches for.
const ProbeMessageID = "<mimecast-connect-check@invalid>"

// ProbeMessageEndpoint asks endpoint (Message Finder search, get-message-info, or the archive's
// message detail or part) about a message that does not exist: Mimecast checks the
// application's permissions before the function runs, so a refusal means the application lacks
// the permission, and "no such message" means it has it. It returns nil when the call was
// allowed.
func (c *Client) ProbeMessageEndpoint(ctx context.Context, endpoint string) error {
	var err error
	switch endpoint {
	case PathMessageFinderSearch:
		now := c.cfg.Now()
		_, err = c.SearchMessages(ctx, MessageSearchRequest{Start: now.Add(-time.Hour), End: now, MessageID: ProbeMessageID, SearchReason: "mimecast-connect permission probe"})
	case PathMessageInfo:
		_, err = c.GetMessageInfo(ctx, ProbeRecordID)
	case PathMessageDetail:
		_, err = c.GetMessageDetail(ctx, ProbeRecordID)
	case PathMessagePart:
		var body io.ReadCloser
		if body, _, err = c.GetMessagePart(ctx, MessagePartRequest{ID: ProbeRecordID, Type: PartPlain}); err == nil {
			_ = body.Close()
		}
	default:
		return fmt.Errorf("no permission probe for %s", endpoint)
	}
	if err == nil || errors.Is(err, ErrNoData) || unknownID(err) {
		return nil
	}
	return err
}
