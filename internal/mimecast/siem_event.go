package mimecast

import (
	"strings"
	"time"
)

// SIEM event types of the Cloud Gateway (values of the batch endpoint's type parameter).
const (
	SIEMTypeReceipt              = "receipt"
	SIEMTypeProcess              = "process"
	SIEMTypeDelivery             = "delivery"
	SIEMTypeAV                   = "av"
	SIEMTypeSpam                 = "spam"
	SIEMTypeInternalEmailProtect = "internal email protect"
	SIEMTypeImpersonationProtect = "impersonation protect"
	SIEMTypeURLProtect           = "url protect"
	SIEMTypeAttachmentProtect    = "attachment protect"
	SIEMTypeJournal              = "journal"
)

// SIEMEvent is one SIEM event: a line of a batch file or an element of the stream endpoint's
// value[]. Most values arrive as strings, even numbers and booleans ("numberAttachments":"0"),
// and are kept as such. Only the fields common to most types are typed; Raw has them all.
type SIEMEvent struct {
	RawRecord
	AccountID    string `json:"accountId"`
	AggregateID  string `json:"aggregateId"`
	ProcessingID string `json:"processingId"`
	Timestamp    Time   `json:"timestamp"` // epoch milliseconds
	// Type is the event type in lower case ("url protect"). Batch files say type, the stream
	// endpoint eventType; both end up here.
	Type      string `json:"type"`
	EventType string `json:"eventType"`
	// Subtype also takes subType (encoding/json matches names case-insensitively).
	Subtype        string `json:"subtype"`
	MsgID          string `json:"messageId"`
	Action         string `json:"action"`
	Direction      string `json:"direction"`
	Route          string `json:"route"`
	SenderEnvelope string `json:"senderEnvelope"`
	SenderHeader   string `json:"senderHeader"`
	SenderIP       string `json:"senderIp"`
	SenderDomain   string `json:"senderDomain"`
	Recipients     string `json:"recipients"`
	Subject        string `json:"subject"`
	URL            string `json:"url"`
	URLCategory    string `json:"urlCategory"`
	FileName       string `json:"fileName"`
	FileExtension  string `json:"fileExtension"`
	MD5            string `json:"md5"`
	SHA1           string `json:"sha1"`
	SHA256         string `json:"sha256"`
	VirusFound     string `json:"virusFound"`
	HoldReason     string `json:"holdReason"`
	RejectionType  string `json:"rejectionType"`
	ScanResults    string `json:"scanResults"`
	BlockReason    string `json:"blockReason"`
	Delivered      string `json:"delivered"` // delivery lines: "true" / "false", or a boolean
	// TaggedMalicious and TaggedExternal say whether the message was delivered with a tag
	// (spam and impersonation lines): "true" / "false", or a boolean.
	TaggedMalicious string `json:"taggedMalicious"`
	TaggedExternal  string `json:"taggedExternal"`
	Offset          int64  `json:"_offset"`
	Partition       int    `json:"_partition"`
}

func (e *SIEMEvent) normalize() {
	if e.Type == "" {
		e.Type = e.EventType
	}
	e.Type = strings.ToLower(strings.TrimSpace(e.Type))
}

// ID is the content hash of the line: SIEM events have no id (none in Mimecast's samples; XSOAR and Rapid7 hash the line too).
func (e SIEMEvent) ID() string { return e.idOrHash("") }

func (*SIEMEvent) identifiedByContent() {}

// EventTime is the event's timestamp.
func (e SIEMEvent) EventTime() time.Time { return e.Timestamp.Time }

// MessageID is the email's Message-ID when the event has one (receipt events may carry null).
func (e SIEMEvent) MessageID() string { return e.MsgID }
