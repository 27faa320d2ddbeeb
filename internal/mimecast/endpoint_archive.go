package mimecast

import (
	"context"
	"io"
	"strings"
	"time"
)

// Archive endpoints (Mimecast API docs): search and list messages, then their details, MIME
// parts and attachments.

const (
	PathArchiveSearch      = "/api/archive/search"
	PathArchiveMessageList = "/api/archive/get-message-list"
	PathMessageDetail      = "/api/archive/get-message-detail"
	PathMessagePart        = "/api/archive/get-message-part"
	PathArchiveFile        = "/api/archive/get-file"
)

// ArchiveSearchRequest is one archive search. Query is the XML query (see ArchiveQuery); Admin
// searches the whole archive (permission Archive | Search | Read) rather than the API user's
// own mailboxes.
type ArchiveSearchRequest struct {
	Admin bool
	Query string
}

func (r ArchiveSearchRequest) item() any {
	return struct {
		Admin bool   `json:"admin"`
		Query string `json:"query"`
	}{r.Admin, r.Query}
}

// ArchiveItem is one search hit. The field names are the XML query's return-field names.
type ArchiveItem struct {
	RawRecord
	MimecastID           string    `json:"id"`
	Subject              string    `json:"subject"`
	DisplayFrom          string    `json:"displayfrom"`
	DisplayFromAddress   string    `json:"displayfromaddress"`
	DisplayTo            string    `json:"displayto"`
	DisplayToAddressList []Address `json:"displaytoaddresslist"`
	ReceivedDate         Time      `json:"receiveddate"`
	Size                 int64     `json:"size"`
	AttachmentCount      int       `json:"attachmentcount"`
	Status               string    `json:"status"` // e.g. ARCHIVED
	Smash                string    `json:"smash"`
}

// ID is the archive message id (what get-message-detail takes).
func (a ArchiveItem) ID() string { return a.idOrHash(a.MimecastID) }

// EventTime is when the message was received.
func (a ArchiveItem) EventTime() time.Time { return a.ReceivedDate.Time }

// MessageID is empty: search hits carry the archive id, not the Message-ID header.
func (a ArchiveItem) MessageID() string { return "" }

// ArchiveSearchPage returns one page of archive search hits. Both response shapes are accepted:
// data[0].items (what tenants send) and a flat data list (what the docs show).
func (c *Client) ArchiveSearchPage(ctx context.Context, req ArchiveSearchRequest, pageToken string) (Page[ArchiveItem], error) {
	return ListPage(ctx, c, PathArchiveSearch, req.item(), pageToken, decodeArchiveItems)
}

var decodeArchiveItems = recordDecoder[ArchiveItem](flatOrWrapped("items"))

// Views of get-message-list.
const (
	ViewInbox = "INBOX"
	ViewSent  = "SENT"
)

// ArchiveMessagesRequest lists the archived messages of one mailbox.
type ArchiveMessagesRequest struct {
	Mailbox    string
	View       string // ViewInbox | ViewSent
	Start, End time.Time
}

// item leaves out empty fields: the endpoint rejects nulls.
func (r ArchiveMessagesRequest) item() any {
	return struct {
		Mailbox string `json:"mailbox,omitempty"`
		View    string `json:"view,omitempty"`
		Start   string `json:"start,omitempty"`
		End     string `json:"end,omitempty"`
	}{r.Mailbox, r.View, formatAPITime(r.Start), formatAPITime(r.End)}
}

// ArchiveMessage is one message of a mailbox listing.
type ArchiveMessage struct {
	RawRecord
	MimecastID      string    `json:"id"`
	Subject         string    `json:"subject"`
	Size            int64     `json:"size"`
	Received        Time      `json:"received"`
	From            Address   `json:"from"`
	To              []Address `json:"to"`
	AttachmentCount int       `json:"attachmentCount"`
	Status          string    `json:"status"`
	Smash           string    `json:"smash"`
}

// ID is the archive message id.
func (m ArchiveMessage) ID() string { return m.idOrHash(m.MimecastID) }

// EventTime is when the message was received.
func (m ArchiveMessage) EventTime() time.Time { return m.Received.Time }

// MessageID is empty: listings carry the archive id, not the Message-ID header.
func (m ArchiveMessage) MessageID() string { return "" }

// ArchiveMessagesPage returns one page of a mailbox listing. The list may come flat or under
// data[0].messages.
func (c *Client) ArchiveMessagesPage(ctx context.Context, req ArchiveMessagesRequest, pageToken string) (Page[ArchiveMessage], error) {
	return ListPage(ctx, c, PathArchiveMessageList, req.item(), pageToken, decodeArchiveMessages)
}

var decodeArchiveMessages = recordDecoder[ArchiveMessage](flatOrWrapped("messages"))

// MessageDetail is get-message-detail's description of one archived message.
type MessageDetail struct {
	RawRecord
	MimecastID    string          `json:"id"`
	Status        string          `json:"status"`
	Smash         string          `json:"smash"`
	MimeMessageID string          `json:"mimeMessageId"`
	HasHTMLBody   bool            `json:"hasHtmlBody"`
	Attachments   []Attachment    `json:"attachments"`
	Received      Time            `json:"received"`
	Processed     Time            `json:"processed"`
	HeaderDate    Time            `json:"headerDate"`
	ReplyTo       Address         `json:"replyTo"`
	From          Address         `json:"from"`
	EnvelopeFrom  Address         `json:"envelopeFrom"`
	To            []Address       `json:"to"`
	Cc            []Address       `json:"cc"`
	Headers       []MessageHeader `json:"headers"`
	Subject       string          `json:"subject"`
	Size          int64           `json:"size"`
}

// Attachment is one attachment of an archived message; ID is what GetArchiveFile takes.
type Attachment struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	Extension   string `json:"extension"`
	ContentType string `json:"contentType"`
	ContentID   string `json:"contentId"`
	BodyType    string `json:"bodyType"`
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
}

// MessageHeader is one header of an archived message.
type MessageHeader struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// ID is the archive message id.
func (m MessageDetail) ID() string { return m.idOrHash(m.MimecastID) }

// EventTime is when the message was received.
func (m MessageDetail) EventTime() time.Time { return m.Received.Time }

// MessageID is the Message-ID header.
func (m MessageDetail) MessageID() string { return m.MimeMessageID }

// GetMessageDetail returns the details of one archived message (needs Archive | Search Content
// View).
func (c *Client) GetMessageDetail(ctx context.Context, id string) (*MessageDetail, error) {
	return fetchObject[MessageDetail](ctx, c, PathMessageDetail, idItem{id})
}

type idItem struct {
	ID string `json:"id"`
}

// Message part types and contexts of get-message-part.
const (
	PartHTML             = "HTML"
	PartPlain            = "PLAIN"
	PartRFC822           = "RFC822"
	PartTransmissionBody = "TRANSMISSION_MESSAGE_BODY"

	ContextDelivered = "DELIVERED"
	ContextReceived  = "RECEIVED"
)

// MessagePartRequest selects one part of an archived message.
type MessagePartRequest struct {
	ID      string
	Type    string // PartRFC822 (the whole MIME message) | PartHTML | PartPlain | PartTransmissionBody
	Context string // ContextDelivered | ContextReceived; empty = the API default
	Mailbox string
}

func (r MessagePartRequest) item() any {
	return struct {
		ID      string `json:"id"`
		Type    string `json:"type,omitempty"`
		Context string `json:"context,omitempty"`
		Mailbox string `json:"mailbox,omitempty"`
	}{r.ID, strings.ToUpper(r.Type), strings.ToUpper(r.Context), r.Mailbox}
}

// GetMessagePart streams one part of an archived message (Type RFC822 is the whole MIME
// message) and returns its Content-Type. The caller closes the stream.
func (c *Client) GetMessagePart(ctx context.Context, req MessagePartRequest) (io.ReadCloser, string, error) {
	return c.PostStream(ctx, PathMessagePart, req.item())
}

// GetArchiveFile streams one attachment (an Attachment.ID) and returns its Content-Type. The
// caller closes the stream.
func (c *Client) GetArchiveFile(ctx context.Context, attachmentID string) (io.ReadCloser, string, error) {
	return c.PostStream(ctx, PathArchiveFile, idItem{attachmentID})
}
