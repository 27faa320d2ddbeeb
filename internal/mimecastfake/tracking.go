package mimecastfake

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Message tracking (Message Finder) knows two kinds of mail:
//   - archived mail: message n of mailbox m, the same message the archive serves (buildMessage);
//     alerts about delivered mail (URL clicks, attachment scans, delivered threat events) point
//     at it by its Message-ID;
//   - alert mail: a message that never reached a mailbox (rejected, bounced or held by a threat
//     event or an impersonation hold); it exists only as record i of an alert feed and is
//     regenerated from (feed, i) when tracking is asked about it.

// routesTracking registers the Message Finder endpoints and the account endpoint.
func (s *Server) routesTracking() {
	s.handleAPI("/api/message-finder/search", ProductTracking, s.handleMessageSearch)
	s.handleAPI("/api/message-finder/get-message-info", ProductTracking, s.handleMessageInfo)
}

// trackedMail is archived message n of mailbox m, exactly as the archive renders it.
func (t *tenant) trackedMail(m, n int) archMsg {
	return buildMessage(t.seed, t.mailbox(m), m, n, t.messageReceived(m, n), t.messageID(m, n), t.sizes)
}

// mailRef is the tracking view of one email.
type mailRef struct {
	m, n        int    // archived mail (n >= 0)
	feed        uint64 // alert mail (feed != 0)
	i           int
	messageID   string
	from, to    address
	subject     string
	received    time.Time
	route       string // inbound | outbound
	status      string // archived | delivered | held | rejected | bounced
	info        string
	senderIP    string
	attachments bool
	size        int
	spamScore   int
	detection   string
}

func (s *Server) archivedMailRef(m, n int, horizon time.Time) mailRef {
	msg := s.tenant.trackedMail(m, n)
	r := mailRef{
		m: m, n: n, messageID: msg.msgID, from: msg.from, to: msg.to[0], subject: msg.subject,
		received: msg.received, route: "inbound", status: "archived", info: "Indexed and archived",
		senderIP:    fakeIP(detHash(s.tenant.seed, kindMsg, m, n, 300)),
		attachments: len(msg.atts) > 0, spamScore: int(detHash(s.tenant.seed, kindMsg, m, n, 301) % 5), detection: "relaxed",
	}
	r.size = 2048 + int(detHash(s.tenant.seed, kindMsg, m, n, 302)%8192)
	for _, a := range msg.atts {
		r.size += a.size * 4 / 3
	}
	if msg.sent {
		r.route = "outbound"
	}
	// Mail of the last day is reported as delivered: indexing for the archive is not instant.
	if horizon.Sub(msg.received) < 24*time.Hour {
		r.status, r.info = "delivered", "Message delivered"
	}
	return r
}

var (
	threatSenders = []string{"it-support@micros0ft-help.example.net", "billing@invoice-center.example.org",
		"noreply@docu-sign.example.info", "ceo.office@corp0-example.com", "hr@payroll-update.example.net"}
	threatSenderNames = []string{"IT Support", "Billing Department", "DocuSign", "Office of the CEO", "HR Payroll"}
	threatSubjects    = []string{"Your mailbox is almost full", "Invoice overdue - action required", "Please review and sign",
		"Urgent wire transfer request", "Updated payroll details", "Password expires today", "Voicemail received (1)"}
)

// alertMessageID is the Message-ID of alert mail i of feed; tracking parses it back.
func (t *tenant) alertMessageID(feed uint64, i int) string {
	b := make([]byte, 0, 64)
	b = append(b, '<')
	b = appendHex16(b, t.hash("alertmsg", int(feed)*1_000_003+i))
	b = append(b, ".a"...)
	b = strconv.AppendUint(b, feed, 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, "@mail.fake-mimecast.test>"...)
	return string(b)
}

// alertMailRef regenerates alert mail i of feed (see the comment at the top of the file).
func (s *Server) alertMailRef(feed uint64, i int) mailRef {
	t := s.tenant
	f := t.alertFeed(feed)
	k := f.pick(i, 40, len(threatSenders))
	victim := t.mailbox(f.pick(i, 2, t.mailboxCount()))
	r := mailRef{
		feed: feed, i: i, n: -1, messageID: t.alertMessageID(feed, i),
		from:     address{Name: threatSenderNames[k], Email: threatSenders[k]},
		to:       address{Name: victim.Name, Email: victim.Email},
		subject:  threatSubjects[f.pick(i, 41, len(threatSubjects))],
		received: f.at(i).Add(-time.Duration(1+f.pick(i, 42, 20)) * time.Second),
		route:    "inbound", senderIP: fakeIP(f.rnd(i, 9)), attachments: f.pick(i, 43, 2) == 0,
		size: 4096 + f.pick(i, 44, 60000), spamScore: 5 + f.pick(i, 45, 15), detection: "moderate",
	}
	switch alertMailStatus(f, i) {
	case "held":
		r.status, r.info = "held", "Held for review - Message Hold Applied - Spam Signature policy"
	case "bounced":
		r.status, r.info = "bounced", "Bounced - Impersonation Protect policy"
	default:
		r.status, r.info = "rejected", "Rejected - Envelope blocked - threat detected"
	}
	return r
}

// alertMailStatus is the tracking status of the alert mail behind record i of f.
func alertMailStatus(f alertFeed, i int) string {
	switch f.key {
	case feedImpersonationLogs:
		if impersonationCore(f, i).action == "bounce" {
			return "bounced"
		}
		return "held"
	case feedThreatEvents:
		switch threatCore(f, i).status {
		case "held":
			return "held"
		case "bounced":
			return "bounced"
		}
	}
	return "rejected"
}

var messageIDPattern = regexp.MustCompile(`^<([0-9a-f]{16})\.(a?)(\d+)\.(\d+)@mail\.fake-mimecast\.test>$`)

// resolveMessageID finds the mail a Message-ID names; ok is false for ids the tenant never issued.
func (s *Server) resolveMessageID(id string, horizon time.Time) (mailRef, bool) {
	id = strings.TrimSpace(id)
	if !strings.HasPrefix(id, "<") {
		id = "<" + id + ">"
	}
	p := messageIDPattern.FindStringSubmatch(id)
	if p == nil {
		return mailRef{}, false
	}
	a, err1 := strconv.Atoi(p[3])
	b, err2 := strconv.Atoi(p[4])
	if err1 != nil || err2 != nil {
		return mailRef{}, false
	}
	t := s.tenant
	if p[2] == "" {
		if a >= t.mailboxCount() || b >= t.sizes.MessagesPerMailbox || t.messageID(a, b) != id {
			return mailRef{}, false
		}
		r := s.archivedMailRef(a, b, horizon)
		return r, !r.received.After(horizon)
	}
	feed := uint64(a)
	if (feed != feedThreatEvents && feed != feedImpersonationLogs) || t.alertMessageID(feed, b) != id {
		return mailRef{}, false
	}
	if f := t.alertFeed(feed); b >= f.available(horizon) || !hasAlertMail(f, b) {
		return mailRef{}, false
	}
	return s.alertMailRef(feed, b), true
}

// Tracked-email ids (trackedEmails[].id) are opaque: a version byte, the kind of mail and its
// two indices as varints, and a seeded check so a made-up id does not resolve.
func (s *Server) trackingID(r mailRef) string {
	buf := []byte{1}
	if r.feed != 0 {
		buf = append(buf, 'a')
		buf = binary.AppendUvarint(buf, r.feed)
		buf = binary.AppendUvarint(buf, uint64(r.i))
	} else {
		buf = append(buf, 'm')
		buf = binary.AppendUvarint(buf, uint64(r.m))
		buf = binary.AppendUvarint(buf, uint64(r.n))
	}
	buf = binary.BigEndian.AppendUint32(buf, uint32(s.tenant.hash("trackid", len(buf))^s.tenant.hash(string(buf), 0)))
	return "eNpN" + base64.RawURLEncoding.EncodeToString(buf)
}

func (s *Server) parseTrackingID(id string, horizon time.Time) (mailRef, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(id, "eNpN"))
	if err != nil || !strings.HasPrefix(id, "eNpN") || len(raw) < 2+2+4 || raw[0] != 1 {
		return mailRef{}, false
	}
	body, sum := raw[:len(raw)-4], raw[len(raw)-4:]
	if binary.BigEndian.Uint32(sum) != uint32(s.tenant.hash("trackid", len(body))^s.tenant.hash(string(body), 0)) {
		return mailRef{}, false
	}
	a, k1 := binary.Uvarint(body[2:])
	if k1 <= 0 {
		return mailRef{}, false
	}
	b, k2 := binary.Uvarint(body[2+k1:])
	if k2 <= 0 || a > 1<<31 || b > 1<<40 {
		return mailRef{}, false
	}
	switch body[1] {
	case 'm':
		if int(a) >= s.tenant.mailboxCount() || int(b) >= s.tenant.sizes.MessagesPerMailbox {
			return mailRef{}, false
		}
		return s.archivedMailRef(int(a), int(b), horizon), true
	case 'a':
		return s.resolveMessageID(s.tenant.alertMessageID(a, int(b)), horizon)
	}
	return mailRef{}, false
}

// ---- POST /api/message-finder/search -------------------------------------------------------

type trackAdvanced struct {
	From     string   `json:"from,omitempty"`
	To       string   `json:"to,omitempty"`
	Subject  string   `json:"subject,omitempty"`
	SenderIP string   `json:"senderIP,omitempty"`
	Route    []string `json:"route,omitempty"`
}

func (a *trackAdvanced) empty() bool {
	return a.From == "" && a.To == "" && a.Subject == "" && a.SenderIP == "" && len(a.Route) == 0
}

type trackSearch struct {
	Start        string         `json:"start,omitempty"`
	End          string         `json:"end,omitempty"`
	SearchReason string         `json:"searchReason,omitempty"`
	MessageID    string         `json:"messageId,omitempty"`
	Advanced     *trackAdvanced `json:"advancedTrackAndTraceOptions,omitempty"`
}

// maxTrackedResults caps an advanced search, which has no pagination in the API.
const maxTrackedResults = 100

func (s *Server) handleMessageSearch(w http.ResponseWriter, _ *http.Request, req *apiRequest) {
	var q trackSearch
	key, ok := decodeItem(w, req, &q)
	if !ok {
		return
	}
	if q.MessageID != "" && q.Advanced != nil {
		writeFieldFail(w, key, errCodeInvalidRequest, "messageId", "messageId and advancedTrackAndTraceOptions cannot be combined")
		return
	}
	if q.MessageID == "" && (q.Advanced == nil || q.Advanced.empty()) {
		writeFieldFail(w, key, errCodeMissingField, "messageId", "Either messageId or advancedTrackAndTraceOptions is required")
		return
	}
	now := s.now()
	// Message Finder looks back about 30 days.
	start, end, ok := checkTimeRange(w, key, "start", q.Start, "end", q.End, now.Add(-30*24*time.Hour), now)
	if !ok {
		return
	}
	var found []mailRef
	if q.MessageID != "" {
		if r, ok := s.resolveMessageID(q.MessageID, now); ok && inWindow(r.received, start, end) {
			found = append(found, r)
		}
	} else {
		found = s.advancedSearch(*q.Advanced, start, end, now)
	}
	emails := make([]any, len(found))
	for k, r := range found {
		emails[k] = s.trackedEmail(r)
	}
	writeEnvelope(w, []any{map[string]any{"trackedEmails": emails}}, nil)
}

func inWindow(t, from, to time.Time) bool { return !t.Before(from) && !t.After(to) }

// advancedSearch scans the archived mail of every mailbox and the alert mail of the window.
func (s *Server) advancedSearch(a trackAdvanced, start, end, now time.Time) []mailRef {
	match := func(r mailRef) bool {
		return containsFold(r.from.Email, a.From) && containsFold(r.to.Email, a.To) &&
			containsFold(r.subject, a.Subject) && (a.SenderIP == "" || r.senderIP == a.SenderIP) &&
			(len(a.Route) == 0 || anyEqualFold(a.Route, []string{r.route}))
	}
	var out []mailRef
	t := s.tenant
	for m := 0; m < t.mailboxCount() && len(out) < maxTrackedResults; m++ {
		for n := range t.sizes.MessagesPerMailbox {
			if rec := t.messageReceived(m, n); !inWindow(rec, start, end) || rec.After(now) {
				continue
			}
			if r := s.archivedMailRef(m, n, now); match(r) {
				out = append(out, r)
				if len(out) == maxTrackedResults {
					break
				}
			}
		}
	}
	for _, feed := range []uint64{feedThreatEvents, feedImpersonationLogs} {
		f := t.alertFeed(feed)
		lo, hi := f.between(start, end, now)
		for i := lo; i < hi && len(out) < maxTrackedResults; i++ {
			if !hasAlertMail(f, i) {
				continue
			}
			if r := s.alertMailRef(feed, i); match(r) {
				out = append(out, r)
			}
		}
	}
	slices.SortStableFunc(out, func(x, y mailRef) int { return y.received.Compare(x.received) })
	return out
}

// hasAlertMail reports whether record i of f is about mail that never reached a mailbox.
func hasAlertMail(f alertFeed, i int) bool {
	switch f.key {
	case feedThreatEvents:
		c := threatCore(f, i)
		return c.source == "email" && c.status != "delivered"
	case feedImpersonationLogs:
		return impersonationCore(f, i).action != "none"
	}
	return false
}

func containsFold(s, sub string) bool {
	return sub == "" || strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func (s *Server) trackedEmail(r mailRef) map[string]any {
	return map[string]any{
		"id":             s.trackingID(r),
		"status":         r.status,
		"info":           r.info,
		"fromEnv":        map[string]any{"emailAddress": r.from.Email},
		"fromHdr":        map[string]any{"displayableName": fallback(r.from.Name, r.from.Email), "emailAddress": r.from.Email},
		"to":             []any{map[string]any{"displayableName": r.to.Name, "emailAddress": r.to.Email}},
		"received":       formatAPITime(r.received),
		"sent":           formatAPITime(r.received.Add(-2 * time.Second)),
		"subject":        r.subject,
		"senderIP":       r.senderIP,
		"attachments":    r.attachments,
		"route":          r.route,
		"spamScore":      r.spamScore,
		"detectionLevel": r.detection,
	}
}

// ---- POST /api/message-finder/get-message-info ---------------------------------------------

type messageInfoRequest struct {
	ID string `json:"id"`
}

// handleMessageInfo answers each data item separately: found ids in data[], unknown ones in
// fail[] with their key, as the API does for multi-item calls.
func (s *Server) handleMessageInfo(w http.ResponseWriter, _ *http.Request, req *apiRequest) {
	if len(req.Data) == 0 {
		writeFieldFail(w, nil, errCodeMissingField, "id", "id is required")
		return
	}
	now := s.now()
	data := []any{}
	fails := []any{}
	for _, raw := range req.Data {
		var item messageInfoRequest
		if err := json.Unmarshal(raw, &item); err != nil || item.ID == "" {
			fails = append(fails, failEntry(raw, errCodeMissingField, "id", "id is required"))
			continue
		}
		r, ok := s.parseTrackingID(item.ID, now)
		if !ok {
			fails = append(fails, failEntry(raw, "err_message_not_found", "id", "No message was found for the given id"))
			continue
		}
		data = append(data, s.messageInfo(r))
	}
	writeJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"status": http.StatusOK}, "data": data, "fail": fails})
}

func failEntry(key json.RawMessage, code, field, message string) map[string]any {
	return map[string]any{"key": key, "errors": []any{map[string]any{"code": code, "message": message, "field": field, "retryable": false}}}
}

func (s *Server) messageInfo(r mailRef) map[string]any {
	sum := sha256.Sum256([]byte(r.messageID))
	allow := map[string]any{"allow": true, "info": "pass"}
	msgInfo := map[string]any{
		"fromHeader":       r.from.Email,
		"fromEnvelope":     r.from.Email,
		"to":               []string{r.to.Email},
		"cc":               []string{},
		"subject":          r.subject,
		"sent":             formatAPITime(r.received.Add(-2 * time.Second)),
		"processed":        formatAPITime(r.received),
		"route":            r.route,
		"transmissionInfo": fmt.Sprintf("<pre>Received: from mx.external.example.net ([%s]) by us-smtp-inbound-1.mimecast.lan; %s</pre>", r.senderIP, r.received.Format(time.RFC1123Z)),
	}
	out := map[string]any{
		"id":     s.trackingID(r),
		"status": r.status,
		"recipientInfo": map[string]any{
			"messageInfo": msgInfo,
			"recipientMetaInfo": map[string]any{
				"receiptEvent": "Email Received", "spamEvent": "na", "messageExpiresIn": 7,
				"processingServer": "us-mta-637.us.mimecast.lan", "transmissionSize": r.size, "binaryEmailSize": r.size + 60,
				"remoteIp": r.senderIP, "remoteHost": "mx.external.example.net", "remoteServerGreeting": "EHLO mx.external.example.net",
				"receiptAcknowledgement": "250 2.0.0 Ok", "transmissionStart": formatAPITime(r.received.Add(-time.Second)),
				"transmissionEnd": formatAPITime(r.received), "encryptionInfo": "TLS",
				"components": []any{map[string]any{"type": "Email Transmission File", "name": "transmission.eml", "extension": "eml",
					"mimeType": "message/rfc822-stubbed", "size": r.size, "hash": hex.EncodeToString(sum[:])}},
			},
		},
		"retentionInfo": map[string]any{
			"currentPurgeDate": formatAPITime(r.received.AddDate(7, 0, 0)), "purgeBasedOn": "original",
			"originalPurgeDate": formatAPITime(r.received.AddDate(7, 0, 0)), "retentionAdjustmentDays": -1,
			"litigationHoldInfo": []any{}, "fbrStamps": []any{}, "smartTags": []any{}, "fbrExpireCheck": []any{}, "audits": []any{},
		},
		"spamInfo": map[string]any{
			"spamScore": r.spamScore, "detectionLevel": r.detection,
			"spamProcessingDetail": map[string]any{
				"rbl": map[string]any{"allow": true, "info": ""}, "greyEmail": r.status != "archived" && r.status != "delivered",
				"spf": allow, "dkim": allow, "dmarc": allow, "permittedSender": map[string]any{"allow": false, "info": "none"},
				"managedSender": map[string]any{"allow": false, "info": "none"},
			},
		},
	}
	if r.status == "archived" || r.status == "delivered" {
		out["deliveredMessage"] = map[string]any{r.to.Email: map[string]any{
			"messageInfo": msgInfo,
			"policyInfo": []any{map[string]any{"policyType": "URL Protection", "policyName": "Default Inbound URL Protect Definition", "inherited": false},
				map[string]any{"policyType": "Attachment Protection", "policyName": "Default Attachment Protect Definition", "inherited": false}},
			"deliveryMetaInfo": map[string]any{
				"deliveryEvent": "Email Delivered via Routing Rule", "emailAddress": r.to.Email,
				"remoteIp": "10.20.30.40", "remoteHost": "mail.fake-mimecast.test", "transmissionStart": formatAPITime(r.received.Add(time.Second)),
				"transmissionEnd": formatAPITime(r.received.Add(2 * time.Second)), "encryptionInfo": "TLS", "deliveryAttempts": 1,
			},
		}}
	} else {
		out["deliveredMessage"] = map[string]any{}
	}
	return out
}
