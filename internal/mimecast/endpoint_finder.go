package mimecast

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Message Finder (formerly Tracking; Mimecast API docs): what the enrich processor asks about a
// message id.

const (
	PathMessageFinderSearch = "/api/message-finder/search"
	PathMessageInfo         = "/api/message-finder/get-message-info"
)

// MessageSearchRequest is one Message Finder search: either MessageID or Advanced, never both
// (the API rejects the combination). Start/End default to the API's window (about 30 days).
type MessageSearchRequest struct {
	Start, End   time.Time
	SearchReason string // recorded in the archive search log
	MessageID    string // with angle brackets, as in the header
	Advanced     *TrackAndTraceOptions
}

// TrackAndTraceOptions are the advanced search criteria.
type TrackAndTraceOptions struct {
	From     string   `json:"from,omitempty"` // address or domain
	To       string   `json:"to,omitempty"`
	Subject  string   `json:"subject,omitempty"`
	SenderIP string   `json:"senderIP,omitempty"`
	Route    []string `json:"route,omitempty"` // inbound | outbound | internal
}

func (r MessageSearchRequest) item() any {
	return struct {
		Start        string                `json:"start,omitempty"`
		End          string                `json:"end,omitempty"`
		SearchReason string                `json:"searchReason,omitempty"`
		MessageID    string                `json:"messageId,omitempty"`
		Advanced     *TrackAndTraceOptions `json:"advancedTrackAndTraceOptions,omitempty"`
	}{formatAPITime(r.Start), formatAPITime(r.End), r.SearchReason, r.MessageID, r.Advanced}
}

// TrackedEmail is one Message Finder hit (data[0].trackedEmails[]).
type TrackedEmail struct {
	RawRecord
	MimecastID     string    `json:"id"` // what GetMessageInfo takes
	Status         string    `json:"status"`
	Info           string    `json:"info"`
	FromEnv        Address   `json:"fromEnv"`
	FromHdr        Address   `json:"fromHdr"`
	To             []Address `json:"to"`
	Received       Time      `json:"received"`
	Sent           Time      `json:"sent"`
	Subject        string    `json:"subject"`
	SenderIP       string    `json:"senderIP"`
	Attachments    bool      `json:"attachments"`
	Route          string    `json:"route"` // lower-cased
	SpamScore      int       `json:"spamScore"`
	DetectionLevel string    `json:"detectionLevel"`
}

func (t *TrackedEmail) normalize() {
	t.Route = strings.ToLower(t.Route)
	t.Status = strings.ToLower(t.Status)
}

// ID is the tracking id.
func (t TrackedEmail) ID() string { return t.idOrHash(t.MimecastID) }

// EventTime is when the message was received.
func (t TrackedEmail) EventTime() time.Time { return t.Received.Time }

// MessageID is empty: hits carry the tracking id only (the search was by Message-ID).
func (t TrackedEmail) MessageID() string { return "" }

// SearchMessages runs one Message Finder search. The endpoint is not paged; Items holds every
// hit, and a hit that could not be decoded has Err set.
func (c *Client) SearchMessages(ctx context.Context, req MessageSearchRequest) (Page[TrackedEmail], error) {
	return ListPage(ctx, c, PathMessageFinderSearch, req.item(), "", decodeTrackedEmails)
}

var decodeTrackedEmails = recordDecoder[TrackedEmail](inWrapper("trackedEmails"))

// MessageInfo is get-message-info's account of one tracked message.
type MessageInfo struct {
	RawRecord
	MimecastID    string        `json:"id"`
	Status        string        `json:"status"`
	RecipientInfo RecipientInfo `json:"recipientInfo"`
	// DeliveredMessage is keyed by recipient address.
	DeliveredMessage map[string]DeliveredMessage `json:"deliveredMessage"`
	RetentionInfo    json.RawMessage             `json:"retentionInfo"`
	SpamInfo         SpamInfo                    `json:"spamInfo"`
}

// RecipientInfo is how the message arrived.
type RecipientInfo struct {
	MessageInfo       MessageHeaderInfo `json:"messageInfo"`
	RecipientMetaInfo RecipientMetaInfo `json:"recipientMetaInfo"`
}

// MessageHeaderInfo is the message's envelope and headers as Message Finder shows them.
type MessageHeaderInfo struct {
	FromHeader       string   `json:"fromHeader"`
	FromEnvelope     string   `json:"fromEnvelope"`
	To               []string `json:"to"`
	Cc               []string `json:"cc"`
	Subject          string   `json:"subject"`
	Sent             Time     `json:"sent"`
	Processed        Time     `json:"processed"`
	Route            string   `json:"route"`
	TransmissionInfo string   `json:"transmissionInfo"`
}

// RecipientMetaInfo describes the receiving SMTP session.
type RecipientMetaInfo struct {
	ReceiptEvent           string      `json:"receiptEvent"`
	SpamEvent              string      `json:"spamEvent"`
	MessageExpiresIn       int         `json:"messageExpiresIn"`
	ProcessingServer       string      `json:"processingServer"`
	TransmissionSize       int64       `json:"transmissionSize"`
	BinaryEmailSize        int64       `json:"binaryEmailSize"`
	RemoteIP               string      `json:"remoteIp"`
	RemoteHost             string      `json:"remoteHost"`
	RemoteServerGreeting   string      `json:"remoteServerGreeting"`
	ReceiptAcknowledgement string      `json:"receiptAcknowledgement"`
	TransmissionStart      Time        `json:"transmissionStart"`
	TransmissionEnd        Time        `json:"transmissionEnd"`
	EncryptionInfo         string      `json:"encryptionInfo"`
	Components             []Component `json:"components"`
}

// Component is one stored part of the message (transmission file, body, attachment).
type Component struct {
	Type      string `json:"type"`
	Name      string `json:"name"`
	Extension string `json:"extension"`
	MimeType  string `json:"mimeType"`
	Size      int64  `json:"size"`
	Hash      string `json:"hash"` // SHA-256
}

// DeliveredMessage is the delivery to one recipient.
type DeliveredMessage struct {
	MessageInfo      MessageHeaderInfo `json:"messageInfo"`
	PolicyInfo       []PolicyInfo      `json:"policyInfo"`
	DeliveryMetaInfo json.RawMessage   `json:"deliveryMetaInfo"`
}

// PolicyInfo is one policy applied to the delivery.
type PolicyInfo struct {
	PolicyType string `json:"policyType"`
	PolicyName string `json:"policyName"`
	Inherited  bool   `json:"inherited"`
}

// SpamInfo is the spam verdict.
type SpamInfo struct {
	SpamScore            int             `json:"spamScore"`
	DetectionLevel       string          `json:"detectionLevel"`
	SpamProcessingDetail json.RawMessage `json:"spamProcessingDetail"`
}

// ID is the tracking id.
func (m MessageInfo) ID() string { return m.idOrHash(m.MimecastID) }

// EventTime is when Mimecast processed the message (else when it was sent).
func (m MessageInfo) EventTime() time.Time {
	if !m.RecipientInfo.MessageInfo.Processed.IsZero() {
		return m.RecipientInfo.MessageInfo.Processed.Time
	}
	return m.RecipientInfo.MessageInfo.Sent.Time
}

// MessageID is empty: get-message-info does not return the Message-ID header.
func (m MessageInfo) MessageID() string { return "" }

// Recipients returns the recipient addresses of DeliveredMessage, sorted.
func (m MessageInfo) Recipients() []string {
	out := make([]string, 0, len(m.DeliveredMessage))
	for r := range m.DeliveredMessage {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// GetMessageInfo returns the tracking details of one message (a TrackedEmail's id).
func (c *Client) GetMessageInfo(ctx context.Context, id string) (*MessageInfo, error) {
	return fetchObject[MessageInfo](ctx, c, PathMessageInfo, idItem{id})
}
