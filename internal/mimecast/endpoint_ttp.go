package mimecast

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// TTP (Targeted Threat Protection) logs (Mimecast API docs). None of the three carries a
// stable id except impersonation logs, so URL and attachment records are identified by content.

const (
	PathURLLogs           = "/api/ttp/url/get-logs"
	PathAttachmentLogs    = "/api/ttp/attachment/get-logs"
	PathImpersonationLogs = "/api/ttp/impersonation/get-logs"
)

// URLLogsRequest filters /api/ttp/url/get-logs. Zero fields are left out so the API applies its
// defaults (from: start of today, to: now, route and scanResult: all, newest first).
type URLLogsRequest struct {
	From, To    time.Time
	Route       string // all | inbound | outbound | internal
	ScanResult  string // all | clean | malicious
	OldestFirst bool
}

func (r URLLogsRequest) item() any {
	return struct {
		From        string `json:"from,omitempty"`
		To          string `json:"to,omitempty"`
		Route       string `json:"route,omitempty"`
		ScanResult  string `json:"scanResult,omitempty"`
		OldestFirst bool   `json:"oldestFirst,omitempty"`
	}{formatAPITime(r.From), formatAPITime(r.To), r.Route, r.ScanResult, r.OldestFirst}
}

// URLClick is one URL Protect log entry (data[0].clickLogs[]).
type URLClick struct {
	RawRecord
	UserEmailAddress      string                         `json:"userEmailAddress"`
	FromUserEmailAddress  string                         `json:"fromUserEmailAddress"`
	URL                   string                         `json:"url"`
	TTPDefinition         string                         `json:"ttpDefinition"`
	Subject               string                         `json:"subject"`
	Action                string                         `json:"action"` // allow | warn | block
	AdminOverride         string                         `json:"adminOverride"`
	UserOverride          string                         `json:"userOverride"`
	ScanResult            string                         `json:"scanResult"` // clean | malicious
	Category              string                         `json:"category"`
	SendingIP             string                         `json:"sendingIp"` // may be "Internal IP"
	UserAwarenessAction   string                         `json:"userAwarenessAction"`
	Date                  Time                           `json:"date"`
	Actions               string                         `json:"actions"`
	Route                 string                         `json:"route"` // lower-cased
	CreationMethod        string                         `json:"creationMethod"`
	EmailPartsDescription []string                       `json:"emailPartsDescription"`
	MsgID                 string                         `json:"messageId"`
	TagMap                map[string]map[string][]string `json:"tagMap"`
}

func (u *URLClick) normalize() { u.Route = strings.ToLower(u.Route) }

// ID is the content hash: click logs have no id.
func (u URLClick) ID() string { return u.idOrHash("") }

func (*URLClick) identifiedByContent() {}

// EventTime is the click (or scan) time.
func (u URLClick) EventTime() time.Time { return u.Date.Time }

// MessageID is the Message-ID of the email that carried the URL.
func (u URLClick) MessageID() string { return u.MsgID }

// URLClickLogsPage returns one page of URL Protect logs; pass the previous page's Next as
// pageToken ("" for the first page).
func (c *Client) URLClickLogsPage(ctx context.Context, req URLLogsRequest, pageToken string) (Page[URLClick], error) {
	p, err := c.URLClickLogsPending(ctx, req, pageToken)
	return p.page(), err
}

// decodeURLClicks decodes the data member of a get-logs response.
var decodeURLClicks = recordDecoder[URLClick](urlClickList)

var urlClickList = inWrapper("clickLogs")

// AttachmentLogsRequest filters /api/ttp/attachment/get-logs.
type AttachmentLogsRequest struct {
	From, To    time.Time
	Route       string // all | inbound | outbound | internal | external
	Result      string // all | clean (real data says safe) | malicious | unknown | timeout
	OldestFirst bool
}

func (r AttachmentLogsRequest) item() any {
	return struct {
		From        string `json:"from,omitempty"`
		To          string `json:"to,omitempty"`
		Route       string `json:"route,omitempty"`
		Result      string `json:"result,omitempty"`
		OldestFirst bool   `json:"oldestFirst,omitempty"`
	}{formatAPITime(r.From), formatAPITime(r.To), r.Route, r.Result, r.OldestFirst}
}

// AttachmentLog is one Attachment Protect (sandbox) log entry (data[0].attachmentLogs[]).
type AttachmentLog struct {
	RawRecord
	SenderAddress    string `json:"senderAddress"`
	RecipientAddress string `json:"recipientAddress"`
	FileName         string `json:"fileName"`
	FileType         string `json:"fileType"`
	Result           string `json:"result"`          // as sent: safe | clean | malicious | unknown | timeout
	ActionTriggered  string `json:"actionTriggered"` // e.g. "none, none", "user release, none"
	Date             Time   `json:"date"`
	Details          string `json:"details"`
	Route            string `json:"route"` // lower-cased
	MsgID            string `json:"messageId"`
	Subject          string `json:"subject"`
	FileHash         string `json:"fileHash"` // SHA-256
	Definition       string `json:"definition"`
}

func (a *AttachmentLog) normalize() { a.Route = strings.ToLower(a.Route) }

// Verdict is Result in lower case with the documented "clean" for the "safe" real tenants send.
func (a AttachmentLog) Verdict() string {
	v := strings.ToLower(strings.TrimSpace(a.Result))
	if v == "safe" {
		return "clean"
	}
	return v
}

// Malicious reports whether the sandbox found the attachment malicious.
func (a AttachmentLog) Malicious() bool { return a.Verdict() == "malicious" }

// ID is the content hash: attachment logs have no id.
func (a AttachmentLog) ID() string { return a.idOrHash("") }

func (*AttachmentLog) identifiedByContent() {}

// EventTime is the scan time.
func (a AttachmentLog) EventTime() time.Time { return a.Date.Time }

// MessageID is the Message-ID of the email that carried the attachment.
func (a AttachmentLog) MessageID() string { return a.MsgID }

// AttachmentLogsPage returns one page of Attachment Protect logs.
func (c *Client) AttachmentLogsPage(ctx context.Context, req AttachmentLogsRequest, pageToken string) (Page[AttachmentLog], error) {
	p, err := c.AttachmentLogsPending(ctx, req, pageToken)
	return p.page(), err
}

// decodeAttachmentLogs decodes the data member of a get-logs response.
var decodeAttachmentLogs = recordDecoder[AttachmentLog](attachmentLogList)

var attachmentLogList = inWrapper("attachmentLogs")

// ImpersonationLogsRequest filters /api/ttp/impersonation/get-logs.
type ImpersonationLogsRequest struct {
	From, To        time.Time
	OldestFirst     bool
	TaggedMalicious *bool    // nil = no filter
	SearchField     string   // senderAddress | recipientAddress | subject | policy | all
	Query           string   // required when SearchField is set
	Identifiers     []string // e.g. newly_observed_domain, internal_user_name
	Actions         []string // e.g. hold, bounce, none
}

func (r ImpersonationLogsRequest) item() any {
	return struct {
		From            string   `json:"from,omitempty"`
		To              string   `json:"to,omitempty"`
		OldestFirst     bool     `json:"oldestFirst,omitempty"`
		TaggedMalicious *bool    `json:"taggedMalicious,omitempty"`
		SearchField     string   `json:"searchField,omitempty"`
		Query           string   `json:"query,omitempty"`
		Identifiers     []string `json:"identifiers,omitempty"`
		Actions         []string `json:"actions,omitempty"`
	}{formatAPITime(r.From), formatAPITime(r.To), r.OldestFirst, r.TaggedMalicious, r.SearchField, r.Query, r.Identifiers, r.Actions}
}

// ImpersonationLog is one Impersonation Protect log entry (data[0].impersonationLogs[]).
type ImpersonationLog struct {
	RawRecord
	MimecastID           string                `json:"id"`
	SenderAddress        string                `json:"senderAddress"`
	RecipientAddress     string                `json:"recipientAddress"`
	Subject              string                `json:"subject"`
	Definition           string                `json:"definition"`
	Hits                 int                   `json:"hits"`
	Identifiers          []string              `json:"identifiers"`
	Action               string                `json:"action"` // none | hold | bounce | ...
	TaggedExternal       bool                  `json:"taggedExternal"`
	TaggedMalicious      bool                  `json:"taggedMalicious"`
	SenderIPAddress      string                `json:"senderIpAddress"`
	EventTimestamp       Time                  `json:"eventTime"`
	ImpersonationResults []ImpersonationResult `json:"impersonationResults"`
	MsgID                string                `json:"messageId"`
}

// ImpersonationResult is one check that hit.
type ImpersonationResult struct {
	ImpersonationDomainSource string `json:"impersonationDomainSource"`
	SimilarDomain             string `json:"similarDomain"`
	StringSimilarToDomain     string `json:"stringSimilarToDomain"`
	CheckerResult             string `json:"checkerResult"`
}

// ID is Mimecast's id for the log entry, or the content hash when it has none.
func (l ImpersonationLog) ID() string { return l.idOrHash(l.MimecastID) }

// OwnID is the log's id as Mimecast sent it ("" without one): it names the detection, which
// several log entries may share.
func (l ImpersonationLog) OwnID() string { return l.MimecastID }

// EventTime is when the email was checked.
func (l ImpersonationLog) EventTime() time.Time { return l.EventTimestamp.Time }

// MessageID is the checked email's Message-ID.
func (l ImpersonationLog) MessageID() string { return l.MsgID }

// ImpersonationPage is a page of impersonation logs with the resultCount Mimecast puts next to
// the list.
type ImpersonationPage struct {
	Page[ImpersonationLog]
	ResultCount int
}

// ImpersonationLogsPage returns one page of Impersonation Protect logs.
func (c *Client) ImpersonationLogsPage(ctx context.Context, req ImpersonationLogsRequest, pageToken string) (ImpersonationPage, error) {
	var count int
	p, err := ListPage(ctx, c, PathImpersonationLogs, req.item(), pageToken, func(data json.RawMessage, known bool) ([]ImpersonationLog, error) {
		count = wrapperInt(data, known, "resultCount")
		return decodeImpersonationLogs(data, known)
	})
	if err != nil {
		return ImpersonationPage{}, err
	}
	return ImpersonationPage{Page: p, ResultCount: count}, nil
}

// decodeImpersonationLogs decodes the data member of a get-logs response.
var decodeImpersonationLogs = recordDecoder[ImpersonationLog](inWrapper("impersonationLogs"))
