package mimecast

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// The hold queue and the log of what admins released or rejected from it (Mimecast API docs).

const (
	PathHoldMessageList = "/api/gateway/get-hold-message-list"
	PathHeldReleaseLogs = "/api/gateway/get-held-release-logs"
)

// FieldValue is one searchBy / filterBy condition of the gateway endpoints.
type FieldValue struct {
	FieldName string `json:"fieldName"`
	Value     string `json:"value"`
}

// HoldListRequest filters /api/gateway/get-hold-message-list. The request always carries
// admin:true: a SOC needs the whole organisation's queue, not the API user's own messages.
type HoldListRequest struct {
	Start, End time.Time
	SearchBy   *FieldValue  // fieldName: all | subject | sender | recipient | reason_code
	FilterBy   []FieldValue // fieldName: route | heldGroup
}

func (r HoldListRequest) item() any {
	return struct {
		Admin    bool         `json:"admin"`
		Start    string       `json:"start,omitempty"`
		End      string       `json:"end,omitempty"`
		SearchBy *FieldValue  `json:"searchBy,omitempty"`
		FilterBy []FieldValue `json:"filterBy,omitempty"`
	}{true, formatAPITime(r.Start), formatAPITime(r.End), r.SearchBy, r.FilterBy}
}

// HeldMessage is one message in the hold queue (the data list itself, no wrapper).
type HeldMessage struct {
	RawRecord
	MimecastID     string  `json:"id"`
	Reason         string  `json:"reason"`
	ReasonID       string  `json:"reasonId"`
	ReasonCode     string  `json:"reasonCode"`
	From           Address `json:"from"`
	FromHeader     Address `json:"fromHeader"`
	To             Address `json:"to"`
	ToHeader       Address `json:"toHeader"`
	Subject        string  `json:"subject"`
	Route          string  `json:"route"` // lower-cased (Mimecast sends INBOUND)
	HasAttachments bool    `json:"hasAttachments"`
	Size           int64   `json:"size"`
	DateReceived   Time    `json:"dateReceived"`
	PolicyInfo     string  `json:"policyInfo"`
}

func (h *HeldMessage) normalize() { h.Route = strings.ToLower(h.Route) }

// ID is the held message's id. Mimecast re-delivers held messages across pages, so inputs must
// de-duplicate on it.
func (h HeldMessage) ID() string { return h.idOrHash(h.MimecastID) }

// OwnID is the held message's id as Mimecast sent it ("" without one).
func (h HeldMessage) OwnID() string { return h.MimecastID }

// EventTime is when the message was received (and held).
func (h HeldMessage) EventTime() time.Time { return h.DateReceived.Time }

// MessageID is empty: the hold list does not carry the Message-ID header.
func (h HeldMessage) MessageID() string { return "" }

// ContentID is the id the archive's content endpoints take for the held message: its own id.
func (h HeldMessage) ContentID() string { return h.MimecastID }

// HeldMessagesPage returns one page of the hold queue.
func (c *Client) HeldMessagesPage(ctx context.Context, req HoldListRequest, pageToken string) (Page[HeldMessage], error) {
	return ListPage(ctx, c, PathHoldMessageList, req.item(), pageToken, decodeHeldMessages)
}

var decodeHeldMessages = recordDecoder[HeldMessage](flatList)

// HeldReleaseLogsRequest filters /api/gateway/get-held-release-logs (default range: one month).
type HeldReleaseLogsRequest struct {
	Start, End time.Time
	SearchBy   *FieldValue  // fieldName: all | operator | from | to | subject | info | heldReason
	FilterBy   []FieldValue // fieldName: route | status | attachments
}

func (r HeldReleaseLogsRequest) item() any {
	return struct {
		Start    string       `json:"start,omitempty"`
		End      string       `json:"end,omitempty"`
		SearchBy *FieldValue  `json:"searchBy,omitempty"`
		FilterBy []FieldValue `json:"filterBy,omitempty"`
	}{formatAPITime(r.Start), formatAPITime(r.End), r.SearchBy, r.FilterBy}
}

// HeldReleaseLog records an administrator releasing or rejecting a held message
// (data[0].heldReleaseLogs[]).
type HeldReleaseLog struct {
	RawRecord
	MimecastID     string    `json:"id"`
	Status         string    `json:"status"` // released | rejected (lower-cased)
	RejectReason   string    `json:"rejectReason"`
	HeldReason     string    `json:"heldReason"`
	MessageInfo    string    `json:"messageInfo"`
	Released       Time      `json:"released"`
	Operator       Address   `json:"operator"`
	FromEnv        Address   `json:"fromEnv"`
	FromHdr        Address   `json:"fromHdr"`
	To             []Address `json:"to"`
	Subject        string    `json:"subject"`
	Attachments    bool      `json:"attachments"`
	Route          string    `json:"route"` // lower-cased
	Size           int64     `json:"size"`
	Policy         string    `json:"policy"`
	SpamScore      int       `json:"spamScore"`
	DetectionLevel string    `json:"detectionLevel"`
	// SpamProcessingDetail is kept raw: its members ({allow,info} pairs, verdict with nested
	// categories) differ between tenants and nobody filters on them.
	SpamProcessingDetail json.RawMessage `json:"spamProcessingDetail"`
}

func (h *HeldReleaseLog) normalize() {
	h.Route = strings.ToLower(h.Route)
	h.Status = strings.ToLower(h.Status)
}

// ID is the log entry's id.
func (h HeldReleaseLog) ID() string { return h.idOrHash(h.MimecastID) }

// OwnID is the entry's id as Mimecast sent it ("" without one).
func (h HeldReleaseLog) OwnID() string { return h.MimecastID }

// EventTime is when the message was released or rejected.
func (h HeldReleaseLog) EventTime() time.Time { return h.Released.Time }

// MessageID is empty: release logs do not carry the Message-ID header.
func (h HeldReleaseLog) MessageID() string { return "" }

// HeldReleaseLogsPage returns one page of the held-message release log.
func (c *Client) HeldReleaseLogsPage(ctx context.Context, req HeldReleaseLogsRequest, pageToken string) (Page[HeldReleaseLog], error) {
	return ListPage(ctx, c, PathHeldReleaseLogs, req.item(), pageToken, decodeHeldReleaseLogs)
}

var decodeHeldReleaseLogs = recordDecoder[HeldReleaseLog](inWrapper("heldReleaseLogs"))
