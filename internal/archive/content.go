package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/email"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// Metadata keys of mimecast_archive messages.
const (
	metaMessageID      = "mimecast_message_id"
	metaMailbox        = "mimecast_mailbox"
	metaOperation      = "mimecast_operation"
	metaReceived       = "mimecast_received"
	metaDocument       = "mimecast_document"
	metaRFC822ID       = "mimecast_rfc822_message_id"
	metaParentID       = "mimecast_parent_id"
	metaAttName        = "mimecast_attachment_name"
	metaAttContentType = "mimecast_attachment_content_type"
	metaAttSize        = "mimecast_attachment_size"
	metaAttSHA256      = "mimecast_attachment_sha256"
	metaAttIndex       = "mimecast_attachment_index"
)

// Values of mimecast_operation, mimecast_document and an attachment's skipped.
const (
	opIndex       = "index"
	opDelete      = "delete"
	docEmail      = "email"
	docAttachment = "attachment"
	docMailbox    = "mailbox"
	skipTooLarge  = "too_large"
	skipExcluded  = "excluded"
)

// attachmentRead is the chunk an attachment is streamed in.
const attachmentRead = email.AttachmentReadSize

// emailDocument is the JSON body of an email message.
type emailDocument struct {
	ID               string              `json:"id"`
	Mailbox          string              `json:"mailbox"`
	MessageID        string              `json:"message_id,omitempty"`
	From             *email.Address      `json:"from,omitempty"`
	To               []email.Address     `json:"to"`
	Cc               []email.Address     `json:"cc,omitempty"`
	Bcc              []email.Address     `json:"bcc,omitempty"`
	ReplyTo          []email.Address     `json:"reply_to,omitempty"`
	Subject          string              `json:"subject"`
	Received         time.Time           `json:"received"`
	Date             time.Time           `json:"date,omitzero"`
	Size             int64               `json:"size,omitempty"`
	Headers          map[string][]string `json:"headers,omitempty"`
	Text             string              `json:"text,omitempty"`
	HTML             string              `json:"html,omitempty"`
	Truncated        bool                `json:"truncated,omitempty"`
	AttachmentCount  int                 `json:"attachment_count"`
	Attachments      []attachmentEntry   `json:"attachments"`
	ContentAvailable bool                `json:"content_available"`
}

// attachmentEntry describes one attachment in its email's document.
type attachmentEntry struct {
	Index       int    `json:"index"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	ContentID   string `json:"content_id,omitempty"`
	Inline      bool   `json:"inline,omitempty"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	Extracted   bool   `json:"extracted"`
	Skipped     string `json:"skipped,omitempty"` // too_large | excluded
}

// emailResult is an email's messages (the email first, then its attachments) and their bytes.
// retry is set instead when the content could not be fetched for a reason that may pass (an
// outage, a stream cut short): the mailbox stops for this crawl and the email is fetched again
// in the next one, rather than emitted without its content for good.
//
// overReservation is set instead when the content kept outgrew the fetch's grant and the
// budget had no room for more: the fetch gave up, holding nothing, for the email to be fetched
// again alone.
type emailResult struct {
	msgs            []*service.Message
	bytes           int // also what the email holds of the input's max_bytes_in_flight budget
	retry           error
	retryID         string
	overReservation bool
}

// maxContentAttempts is how many crawls in a row may fail to fetch one email's content before
// it is emitted error-flagged: a message Mimecast can never serve must not stop its mailbox for
// good.
const maxContentAttempts = 3

// errOverReservation stops the parse of an email whose content outgrew its grant.
var errOverReservation = errors.New("the content outgrew its share of max_bytes_in_flight")

// errContentRead marks a failure to read the content stream (as opposed to content that is not
// valid MIME): the parser passes it through, and it is worth another try.
var errContentRead = errors.New("reading the content stream")

// taggedReader tags the read errors of the content stream with errContentRead.
type taggedReader struct{ r io.Reader }

func (t taggedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %w", errContentRead, err)
	}
	return n, err
}

// permanentContentError reports whether a content fetch failure will not pass by retrying: the
// message is gone (deleted between the search and the fetch).
func permanentContentError(err error) bool {
	var apiErr *mimecast.APIError
	if !errors.As(err, &apiErr) || apiErr.Retryable {
		return false
	}
	for _, c := range apiErr.Codes {
		if strings.Contains(strings.ToLower(c), "not_found") {
			return true
		}
	}
	return false
}

// contentFailed decides what a failed fetch of it's content becomes: a retry in the next crawl,
// or (when it cannot pass, or failed maxContentAttempts crawls in a row) the email error-flagged.
func (in *archiveInput) contentFailed(p *passRun, doc *emailDocument, id string, err error) emailResult {
	in.metrics.contentErrors.Incr(1)
	if !permanentContentError(err) {
		in.contentMu.Lock()
		in.contentFailures[id]++
		n := in.contentFailures[id]
		in.contentMu.Unlock()
		if n < maxContentAttempts {
			return emailResult{retry: err, retryID: id}
		}
	}
	in.forgetContentFailures(id)
	in.log.Warnf("%s: emitting %s error-flagged: its content cannot be fetched: %v", doc.Mailbox, id, err)
	return in.emailOnly(p, doc, fmt.Errorf("fetching the content of %s: %w", id, err))
}

func (in *archiveInput) forgetContentFailures(id string) {
	in.contentMu.Lock()
	delete(in.contentFailures, id)
	in.contentMu.Unlock()
}

func (in *archiveInput) subjectOr(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return in.cfg.blankSubject
	}
	return s
}

// metadataDocument is what the search hit alone says about a message.
func (in *archiveInput) metadataDocument(mailbox string, it *mimecast.ArchiveItem) *emailDocument {
	doc := &emailDocument{
		ID:              it.MimecastID,
		Mailbox:         mailbox,
		Subject:         in.subjectOr(it.Subject),
		Received:        it.ReceivedDate.UTC(),
		Size:            it.Size,
		AttachmentCount: it.AttachmentCount,
		To:              []email.Address{},
		Attachments:     []attachmentEntry{},
	}
	if it.DisplayFromAddress != "" {
		doc.From = &email.Address{Name: it.DisplayFrom, Address: strings.ToLower(it.DisplayFromAddress)}
		if strings.EqualFold(it.DisplayFrom, it.DisplayFromAddress) {
			doc.From.Name = ""
		}
	}
	for _, a := range it.DisplayToAddressList {
		if a.EmailAddress != "" {
			doc.To = append(doc.To, email.Address{Name: a.DisplayableName, Address: strings.ToLower(a.EmailAddress)})
		}
	}
	return doc
}

// fetchEmail turns a search hit into its messages. The content comes from get-message-part
// (RFC 822); without the Content View permission the email is emitted with metadata only, and
// when the content cannot be fetched or parsed the email is emitted error-flagged with what is
// known, so nothing is dropped silently and the crawl goes on. The attachments kept are
// charged to g as they are read.
func (in *archiveInput) fetchEmail(ctx context.Context, p *passRun, mailbox string, it *mimecast.ArchiveItem, g *grant) emailResult {
	doc := in.metadataDocument(mailbox, it)
	if p.forbidden.Load() {
		in.metrics.contentForbidden.Incr(1)
		return in.emailOnly(p, doc, nil)
	}
	conn := in.cfg.conn
	body, _, err := conn.Client.GetMessagePart(conn.Context(ctx), mimecast.MessagePartRequest{ID: it.MimecastID, Type: mimecast.PartRFC822, Mailbox: mailbox})
	if err != nil {
		var apiErr *mimecast.APIError
		if errors.As(err, &apiErr) && apiErr.Forbidden() {
			p.forbidden.Store(true)
			in.metrics.contentForbidden.Incr(1)
			in.forbiddenOnce.Do(func() {
				in.log.Warnf("Mimecast refused the message content (%v): grant the API application the role Archive | Search Content View; emails are emitted with their metadata only (content_available: false) until then", err)
			})
			return in.emailOnly(p, doc, nil)
		}
		return in.contentFailed(p, doc, it.MimecastID, err)
	}
	defer body.Close()
	counted := &countingReader{r: taggedReader{r: body}}
	col := &attachmentCollector{in: in, raw: counted, total: it.Size, grant: g}
	parsed, err := email.Parse(counted, in.cfg.maxBodySize, col.add)
	if errors.Is(err, errOverReservation) {
		return emailResult{overReservation: true}
	}
	if errors.Is(err, errContentRead) {
		return in.contentFailed(p, doc, it.MimecastID, err)
	}
	in.forgetContentFailures(it.MimecastID)
	doc.ContentAvailable = true
	in.fillDocument(doc, parsed, col.entries)
	if err != nil {
		in.metrics.contentErrors.Incr(1)
		in.log.Warnf("%s: emitting %s error-flagged: %v", mailbox, it.MimecastID, err)
		// Attachments read before the error are listed, not emitted: their email is broken.
		return in.emailOnly(p, doc, fmt.Errorf("parsing the content of %s: %w", it.MimecastID, err))
	}
	res := in.emailOnly(p, doc, nil)
	for _, a := range col.extracted {
		msg := service.NewMessage(a.data)
		in.setCommonMeta(msg, doc)
		msg.MetaSetMut(metaDocument, docAttachment)
		msg.MetaSetMut(metaParentID, doc.ID)
		msg.MetaSetMut(metaAttName, a.entry.Name)
		msg.MetaSetMut(metaAttContentType, a.entry.ContentType)
		msg.MetaSetMut(metaAttSize, a.entry.Size)
		msg.MetaSetMut(metaAttSHA256, a.entry.SHA256)
		msg.MetaSetMut(metaAttIndex, int64(a.entry.Index))
		res.msgs = append(res.msgs, msg)
		res.bytes += len(a.data)
		p.attachments.Add(1)
		p.bytes.Add(int64(len(a.data)))
		in.metrics.attachments.Incr(1)
		in.metrics.bytes.Incr(int64(len(a.data)))
	}
	return res
}

// fillDocument merges what the parser read into the search hit's metadata.
func (in *archiveInput) fillDocument(doc *emailDocument, e *email.Email, atts []attachmentEntry) {
	if e == nil {
		return
	}
	doc.MessageID = e.MessageID
	if e.From != nil {
		doc.From = e.From
	}
	if len(e.To) > 0 {
		doc.To = e.To
	}
	doc.Cc, doc.Bcc, doc.ReplyTo = e.Cc, e.Bcc, e.ReplyTo
	if e.Subject != "" || len(e.Headers) > 0 {
		doc.Subject = in.subjectOr(e.Subject)
	}
	doc.Date = e.Date
	doc.Headers = e.Headers
	doc.Text, doc.HTML, doc.Truncated = e.Text, e.HTML, e.Truncated
	doc.Attachments = append(doc.Attachments[:0], atts...)
	doc.AttachmentCount = len(atts)
}

// emailOnly builds the email's message; err flags it.
func (in *archiveInput) emailOnly(p *passRun, doc *emailDocument, err error) emailResult {
	body, mErr := json.Marshal(doc)
	if mErr != nil { // cannot happen with these types; never drop the email over it
		body = []byte(`{"id":` + jsonString(doc.ID) + `}`)
		err = errors.Join(err, mErr)
	}
	msg := service.NewMessage(body)
	in.setCommonMeta(msg, doc)
	msg.MetaSetMut(metaDocument, docEmail)
	if doc.MessageID != "" {
		msg.MetaSetMut(metaRFC822ID, doc.MessageID)
	}
	if err != nil {
		msg.SetError(err)
	}
	p.emails.Add(1)
	p.bytes.Add(int64(len(body)))
	in.metrics.emails.Incr(1)
	in.metrics.bytes.Incr(int64(len(body)))
	return emailResult{msgs: []*service.Message{msg}, bytes: len(body)}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (in *archiveInput) setCommonMeta(msg *service.Message, doc *emailDocument) {
	msg.MetaSetMut(metaMailbox, doc.Mailbox)
	msg.MetaSetMut(metaMessageID, doc.ID)
	msg.MetaSetMut(metaOperation, opIndex)
	msg.MetaSetMut(metaReceived, doc.Received.Format(time.RFC3339))
}

// undecodableMessage is a search hit that could not be decoded, emitted error-flagged with the
// raw record so that it can be routed to a dead letter queue.
func (in *archiveInput) undecodableMessage(mailbox string, it *mimecast.ArchiveItem) *service.Message {
	in.metrics.decodeErrors.Incr(1)
	in.log.Warnf("%s: emitting an undecodable archive search record error-flagged: %v", mailbox, it.DecodeErr())
	msg := service.NewMessage(it.Raw)
	msg.MetaSetMut(metaMailbox, mailbox)
	msg.MetaSetMut(metaOperation, opIndex)
	msg.MetaSetMut(metaDocument, docEmail)
	msg.SetError(fmt.Errorf("decoding an archive search record of %s: %w", mailbox, it.DecodeErr()))
	return msg
}
