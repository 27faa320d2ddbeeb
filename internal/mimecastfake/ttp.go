package mimecastfake

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// routesTTP registers the three Targeted Threat Protection log lists (Mimecast API docs).
func (s *Server) routesTTP() {
	s.handleAPI("/api/ttp/url/get-logs", ProductURLProtect, s.handleURLLogs)
	s.handleAPI("/api/ttp/attachment/get-logs", ProductAttachmentProtect, s.handleAttachmentLogs)
	s.handleAPI("/api/ttp/impersonation/get-logs", ProductImpersonation, s.handleImpersonationLogs)
}

// ttpMessage picks the mail an alert of record i is about: a mailbox, then the newest archived
// message of it received before the alert, preferring one whose direction (and attachments,
// when needed) fit the alert. The search is bounded; a tiny tenant may not have a perfect fit.
func (s *Server) ttpMessage(f alertFeed, i int, outbound, needAttachment bool) archMsg {
	t := s.tenant
	m := f.pick(i, 2, t.mailboxCount())
	n := t.messageBefore(m, f.at(i))
	// Direction and attachments follow from the index alone, so the search describes only the
	// message it settles on.
	pick := n
	for k := 0; k < 12 && n-k >= 0; k++ {
		if messageSent(n-k) == outbound && (!needAttachment || variantHasAttachments(messageVariant(m, n-k))) {
			pick = n - k
			break
		}
	}
	return t.alertMail(m, pick)
}

// ---- URL Protect clicks ------------------------------------------------------------------

type urlLogFilter struct {
	From        string `json:"from,omitempty"`
	To          string `json:"to,omitempty"`
	Route       string `json:"route,omitempty"`
	ScanResult  string `json:"scanResult,omitempty"`
	OldestFirst bool   `json:"oldestFirst,omitempty"`
}

var (
	maliciousURLs = []string{
		"https://login-microsoftonline.account-verify.example.net/owa/%d",
		"http://docu-sign.secure-files.example.org/view?doc=%d",
		"https://invoice-portal.example.info/download/inv_%d.zip",
		"http://198.51.100.77/wp-content/update_%d.exe",
		"https://sharepoint-files.example.net/shared/%d/Payment.html",
	}
	cleanURLs = []string{
		"https://www.example.com/news/%d",
		"https://docs.example.org/guide/chapter-%d",
		"https://www.google.com/search?q=quarterly+report+%d",
		"https://portal.example.net/doc/%d",
		"https://calendar.example.com/event/%d",
	}
	maliciousCategories = []string{"Phishing & Fraud", "Compromised", "Dangerous file extension", "Malware"}
	cleanCategories     = []string{"Search Engines & Portals", "Business", "News & Media", "Unknown"}
)

// urlClick holds the attributes of click i that filters look at; cheap to compute.
type urlClick struct {
	outbound  bool
	malicious bool
}

func urlClickCore(f alertFeed, i int) urlClick {
	return urlClick{outbound: f.pick(i, 3, 100) < 15, malicious: f.pick(i, 4, 100) < 25}
}

func (s *Server) handleURLLogs(w http.ResponseWriter, _ *http.Request, req *apiRequest) {
	const endpoint = "/api/ttp/url/get-logs"
	var flt urlLogFilter
	key, ok := decodeItem(w, req, &flt)
	if !ok || !checkEnum(w, key, "route", flt.Route, "all", "inbound", "outbound", "internal") ||
		!checkEnum(w, key, "scanResult", flt.ScanResult, "all", "clean", "malicious") {
		return
	}
	cur, size, ok := s.openAPIPage(w, endpoint, req, key, flt)
	if !ok {
		return
	}
	h := cur.horizon()
	from, to, ok := checkTimeRange(w, key, "from", flt.From, "to", flt.To, startOfDay(h), h)
	if !ok {
		return
	}
	f := s.tenant.alertFeed(feedURLClicks)
	lo, hi := f.between(from, to, h)
	route, scan := strings.ToLower(flt.Route), strings.ToLower(flt.ScanResult)
	walk := recordWalk{lo: lo, hi: hi, oldestFirst: flt.OldestFirst}
	if (route != "" && route != "all") || (scan != "" && scan != "all") {
		walk.match = func(i int) bool {
			c := urlClickCore(f, i)
			return (route == "" || route == "all" || (route == "outbound") == c.outbound && route != "internal") &&
				(scan == "" || scan == "all" || (scan == "malicious") == c.malicious)
		}
	}
	s.servePage(w, req.Meta.Pagination.PageToken, cur, size, s.lateIndexed(f, h, walk),
		func(o *jsonOut, i int) { r := s.urlClickRecord(f, i); r.appendJSON(o) }, pageShape{name: "clickLogs"})
}

// urlClickLog is one record of clickLogs.
type urlClickLog struct {
	clicker, sender, definition, subject, messageID string
	urlTmpl                                         string // one %d, filled with urlNum
	urlNum                                          uint64
	action, actions, scan, awareness, category      string
	sendingIP, route, creation, part                string
	date                                            time.Time
	malicious                                       bool // tagMap holds the reputation verdict
}

func (s *Server) urlClickRecord(f alertFeed, i int) urlClickLog {
	c := urlClickCore(f, i)
	msg := s.ttpMessage(f, i, c.outbound, false)
	r := urlClickLog{
		clicker: msg.to[0].Email, sender: msg.from.Email, subject: msg.subject, messageID: msg.msgID,
		route: "inbound", definition: "Default Inbound URL Protect Definition",
		action: "allow", actions: "Allow", scan: "clean", awareness: "N/A",
		creation: "User Click", part: "Body", date: f.at(i), malicious: c.malicious,
	}
	if c.outbound {
		r.route, r.definition = "outbound", "Default Outbound URL Protect Definition"
	}
	urls, cats := cleanURLs, cleanCategories
	if c.malicious {
		urls, cats, r.scan = maliciousURLs, maliciousCategories, "malicious"
		switch f.pick(i, 5, 10) {
		case 0, 1:
			r.action, r.actions, r.awareness = "warn", "Browser Isolation", "Continue"
		default:
			r.action, r.actions = "block", "Block"
		}
	}
	r.category = cats[f.pick(i, 6, len(cats))]
	if f.pick(i, 7, 5) == 0 {
		r.creation = "Entry Scan"
	}
	if len(msg.atts) > 0 && f.pick(i, 8, 3) == 0 {
		r.part = "Attachment"
	}
	if c.outbound {
		r.sendingIP = "Internal IP"
	} else {
		r.sendingIP = fakeIP(f.rnd(i, 9))
	}
	r.urlTmpl, r.urlNum = urls[f.pick(i, 10, len(urls))], f.rnd(i, 11)%100000
	return r
}

// appendJSON writes the record with its members in key order (it was a map).
func (r *urlClickLog) appendJSON(o *jsonOut) {
	o.beginObject()
	o.str("action", r.action)
	o.str("actions", r.actions)
	o.str("adminOverride", "N/A")
	o.str("category", r.category)
	o.str("creationMethod", r.creation)
	o.time("date", r.date, apiTimeLayout)
	o.array("emailPartsDescription")
	o.elemStr(r.part)
	o.endArray()
	o.str("fromUserEmailAddress", r.sender)
	o.str("messageId", r.messageID)
	o.str("route", r.route)
	o.str("scanResult", r.scan)
	o.str("sendingIp", r.sendingIP)
	o.str("subject", r.subject)
	o.object("tagMap")
	if r.malicious {
		o.object("UrlReputationScan")
		o.array("Status")
		o.elemStr("Malicious")
		o.endArray()
		o.array("Type")
		o.elemStr(r.category)
		o.endArray()
		o.endObject()
	}
	o.endObject()
	o.str("ttpDefinition", r.definition)
	o.strNum("url", r.urlTmpl, r.urlNum)
	o.str("userAwarenessAction", r.awareness)
	o.str("userEmailAddress", r.clicker)
	o.str("userOverride", "None")
	o.endObject()
}

// ---- Attachment Protect -------------------------------------------------------------------

type attachmentLogFilter struct {
	From        string `json:"from,omitempty"`
	To          string `json:"to,omitempty"`
	Route       string `json:"route,omitempty"`
	Result      string `json:"result,omitempty"`
	OldestFirst bool   `json:"oldestFirst,omitempty"`
}

// Sandbox results as real tenants report them ("safe" where the docs say "clean").
var attachmentResults = []string{"safe", "safe", "safe", "safe", "safe", "malicious", "malicious", "unknown", "timeout"}

func (s *Server) handleAttachmentLogs(w http.ResponseWriter, _ *http.Request, req *apiRequest) {
	const endpoint = "/api/ttp/attachment/get-logs"
	var flt attachmentLogFilter
	key, ok := decodeItem(w, req, &flt)
	if !ok || !checkEnum(w, key, "route", flt.Route, "all", "inbound", "outbound", "internal", "external") ||
		!checkEnum(w, key, "result", flt.Result, "all", "clean", "safe", "malicious", "unknown", "timeout") {
		return
	}
	cur, size, ok := s.openAPIPage(w, endpoint, req, key, flt)
	if !ok {
		return
	}
	h := cur.horizon()
	from, to, ok := checkTimeRange(w, key, "from", flt.From, "to", flt.To, startOfDay(h), h)
	if !ok {
		return
	}
	f := s.tenant.alertFeed(feedAttachmentLogs)
	lo, hi := f.between(from, to, h)
	route, result := strings.ToLower(flt.Route), strings.ToLower(flt.Result)
	if result == "clean" {
		result = "safe"
	}
	walk := recordWalk{lo: lo, hi: hi, oldestFirst: flt.OldestFirst}
	if (route != "" && route != "all") || (result != "" && result != "all") {
		walk.match = func(i int) bool {
			out := attachmentOutbound(f, i)
			return (route == "" || route == "all" || route == "outbound" && out || route == "inbound" && !out) &&
				(result == "" || result == "all" || attachmentResults[f.pick(i, 4, len(attachmentResults))] == result)
		}
	}
	s.servePage(w, req.Meta.Pagination.PageToken, cur, size, s.lateIndexed(f, h, walk),
		func(o *jsonOut, i int) { r := s.attachmentRecord(f, i); r.appendJSON(o) }, pageShape{name: "attachmentLogs"})
}

func attachmentOutbound(f alertFeed, i int) bool { return f.pick(i, 3, 100) < 10 }

// attachmentLog is one record of attachmentLogs.
type attachmentLog struct {
	sender, recipient, fileName, fileType, result, action string
	detailsTmpl                                           string // one %d, filled with detailsNum
	detailsNum                                            uint64
	route, messageID, subject                             string
	date                                                  time.Time
	hash                                                  [32]byte
}

func (s *Server) attachmentRecord(f alertFeed, i int) attachmentLog {
	out := attachmentOutbound(f, i)
	msg := s.ttpMessage(f, i, out, true)
	r := attachmentLog{
		sender: msg.from.Email, recipient: msg.to[0].Email, messageID: msg.msgID, subject: msg.subject,
		result:   attachmentResults[f.pick(i, 4, len(attachmentResults))],
		fileName: "document.pdf", fileType: "application/pdf", route: "inbound", date: f.at(i),
	}
	if len(msg.atts) > 0 {
		a := msg.atts[f.pick(i, 5, len(msg.atts))]
		r.fileName, r.fileType = a.filename, a.contentType
	}
	if out {
		r.route = "outbound"
	}
	r.action, r.detailsTmpl = "none, none", "Safe\r\nTime taken: %d seconds"
	switch r.result {
	case "malicious":
		r.action, r.detailsTmpl = "sandbox, hold", "Malicious\r\nThreat: Trojan.GenericKD.%d"
	case "unknown":
		r.action, r.detailsTmpl = "user release, none", "Unknown\r\nTime taken: %d seconds"
	case "timeout":
		r.action, r.detailsTmpl = "none, none", "Timeout\r\nTime taken: %d seconds"
	}
	r.detailsNum = uint64(20 + f.pick(i, 6, 300))
	for k := range 4 {
		v := f.rnd(i, 20+uint64(k))
		for b := range 8 {
			r.hash[k*8+b] = byte(v >> (8 * b))
		}
	}
	return r
}

// appendJSON writes the record with its members in key order (it was a map).
func (r *attachmentLog) appendJSON(o *jsonOut) {
	o.beginObject()
	o.str("actionTriggered", r.action)
	o.time("date", r.date, apiTimeLayout)
	o.str("definition", "Default Attachment Protect Definition")
	o.strNum("details", r.detailsTmpl, r.detailsNum)
	o.key("fileHash")
	o.b = append(o.b, '"')
	o.b = hex.AppendEncode(o.b, r.hash[:])
	o.b = append(o.b, '"')
	o.str("fileName", r.fileName)
	o.str("fileType", r.fileType)
	o.str("messageId", r.messageID)
	o.str("recipientAddress", r.recipient)
	o.str("result", r.result)
	o.str("route", r.route)
	o.str("senderAddress", r.sender)
	o.str("subject", r.subject)
	o.endObject()
}

// ---- Impersonation Protect ----------------------------------------------------------------

type impersonationLogFilter struct {
	From            string   `json:"from,omitempty"`
	To              string   `json:"to,omitempty"`
	OldestFirst     bool     `json:"oldestFirst,omitempty"`
	TaggedMalicious *bool    `json:"taggedMalicious,omitempty"`
	SearchField     string   `json:"searchField,omitempty"`
	Query           string   `json:"query,omitempty"`
	Identifiers     []string `json:"identifiers,omitempty"`
	Actions         []string `json:"actions,omitempty"`
}

var impersonationIdentifiers = []string{
	"similar_internal_domain", "newly_observed_domain", "internal_user_name", "reply_address_mismatch",
	"targeted_threat_dictionary", "custom_external_domain", "mimecast_external_domain",
	"advanced_similar_internal_domain", "advanced_custom_external_domain", "advanced_mimecast_external_domain",
	"custom_name_list",
}

// impersonation holds what the filters of record i look at.
type impersonation struct {
	identifiers []string
	action      string
	malicious   bool
}

func impersonationCore(f alertFeed, i int) impersonation {
	hits := 1 + f.pick(i, 3, 3)
	ids := make([]string, 0, hits)
	for k := range hits {
		id := impersonationIdentifiers[f.pick(i, 10+uint64(k), len(impersonationIdentifiers))]
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	action := []string{"none", "none", "hold", "bounce"}[f.pick(i, 4, 4)]
	return impersonation{identifiers: ids, action: action, malicious: len(ids) >= 2 || action != "none"}
}

func (s *Server) handleImpersonationLogs(w http.ResponseWriter, _ *http.Request, req *apiRequest) {
	const endpoint = "/api/ttp/impersonation/get-logs"
	var flt impersonationLogFilter
	key, ok := decodeItem(w, req, &flt)
	if !ok || !checkEnum(w, key, "searchField", flt.SearchField, "senderaddress", "recipientaddress", "subject", "policy", "all") {
		return
	}
	if flt.SearchField != "" && flt.Query == "" {
		writeFieldFail(w, key, errCodeMissingField, "query", "query is required when searchField is set")
		return
	}
	for _, id := range flt.Identifiers {
		if !slices.Contains(impersonationIdentifiers, strings.ToLower(id)) {
			writeFieldFail(w, key, errCodeInvalidValue, "identifiers", fmt.Sprintf("identifier %q is unknown", id))
			return
		}
	}
	cur, size, ok := s.openAPIPage(w, endpoint, req, key, flt)
	if !ok {
		return
	}
	h := cur.horizon()
	from, to, ok := checkTimeRange(w, key, "from", flt.From, "to", flt.To, startOfDay(h), h)
	if !ok {
		return
	}
	f := s.tenant.alertFeed(feedImpersonationLogs)
	lo, hi := f.between(from, to, h)
	walk := recordWalk{lo: lo, hi: hi, oldestFirst: flt.OldestFirst}
	if flt.TaggedMalicious != nil || flt.SearchField != "" || len(flt.Identifiers) > 0 || len(flt.Actions) > 0 {
		walk.match = func(i int) bool { return s.impersonationMatches(f, i, flt) }
	}
	s.servePage(w, req.Meta.Pagination.PageToken, cur, size, s.lateIndexed(f, h, walk),
		func(o *jsonOut, i int) { r := s.impersonationRecord(f, i); r.appendJSON(o) },
		// resultCount sits beside the list, as in Mimecast's documented sample; the fake reports the
		// number of matching records there.
		pageShape{name: "impersonationLogs", count: "resultCount"})
}

func (s *Server) impersonationMatches(f alertFeed, i int, flt impersonationLogFilter) bool {
	c := impersonationCore(f, i)
	if flt.TaggedMalicious != nil && *flt.TaggedMalicious != c.malicious {
		return false
	}
	if len(flt.Identifiers) > 0 && !anyEqualFold(flt.Identifiers, c.identifiers) {
		return false
	}
	if len(flt.Actions) > 0 && !anyEqualFold(flt.Actions, []string{c.action}) {
		return false
	}
	if flt.SearchField == "" {
		return true
	}
	// A text search needs the rendered record; it is the one filter that is not cheap.
	rec := s.impersonationRecord(f, i)
	q := strings.ToLower(flt.Query)
	has := func(v string) bool { return strings.Contains(strings.ToLower(v), q) }
	switch strings.ToLower(flt.SearchField) {
	case "senderaddress":
		return has(rec.sender)
	case "recipientaddress":
		return has(rec.victim.Email)
	case "subject":
		return has(rec.subject)
	case "policy":
		return has(rec.definition())
	default:
		return has(rec.sender) || has(rec.victim.Email) || has(rec.subject) || has(rec.definition())
	}
}

// impersonationLog is one record of impersonationLogs.
type impersonationLog struct {
	core      impersonation
	id        uint64
	sender    string
	victim    address
	subject   string
	messageID string
	senderIP  string
	eventTime time.Time
}

func (s *Server) impersonationRecord(f alertFeed, i int) impersonationLog {
	c := impersonationCore(f, i)
	var mail mailRef
	if c.action == "none" {
		// Tagged but delivered: the alert is about mail in the recipient's mailbox.
		msg := s.ttpMessage(f, i, false, false)
		mail = mailRef{messageID: msg.msgID, from: msg.from, to: msg.to[0], subject: msg.subject}
	} else {
		// Held or bounced mail never reached the mailbox; tracking knows it as alert mail.
		mail = s.alertMailRef(feedImpersonationLogs, i)
	}
	return impersonationLog{
		core: c, id: f.rnd(i, 30), sender: mail.from.Email, victim: mail.to, subject: mail.subject,
		messageID: mail.messageID, senderIP: fakeIP(f.rnd(i, 9)), eventTime: f.at(i),
	}
}

// impersonationDefinitions are the policy names by number of hits (1 to 3).
var impersonationDefinitions = [...]string{"IP - 0 hit (Tag email)", "IP - 1 hit (Tag email)", "IP - 2 hit (Tag email)", "IP - 3 hit (Tag email)"}

func (r *impersonationLog) definition() string {
	if n := len(r.core.identifiers); n < len(impersonationDefinitions) {
		return impersonationDefinitions[n]
	}
	return fmt.Sprintf("IP - %d hit (Tag email)", len(r.core.identifiers))
}

// appendJSON writes the record with its members in key order (it was a map).
func (r *impersonationLog) appendJSON(o *jsonOut) {
	o.beginObject()
	o.str("action", r.core.action)
	o.str("definition", r.definition())
	o.time("eventTime", r.eventTime, apiTimeLayout)
	o.num("hits", len(r.core.identifiers))
	o.hex16("id", "MTOKEN:eNq", r.id)
	o.strs("identifiers", r.core.identifiers)
	o.array("impersonationResults")
	for _, id := range r.core.identifiers {
		o.beginObject()
		o.str("checkerResult", "hit")
		o.str("impersonationDomainSource", id)
		if id == "internal_user_name" || id == "custom_name_list" {
			o.key("similarDomain")
			o.b = append(o.b, '"')
			o.b = appendJSONStringBody(o.b, r.victim.Name)
			o.b = appendJSONStringBody(o.b, " <")
			o.b = appendJSONStringBody(o.b, r.victim.Email)
			o.b = appendJSONStringBody(o.b, ">")
			o.b = append(o.b, '"')
			o.str("stringSimilarToDomain", r.victim.Name)
		} else {
			o.str("similarDomain", "corp0-example.com")
			o.str("stringSimilarToDomain", "corp0.example.com")
		}
		o.endObject()
	}
	o.endArray()
	o.str("messageId", r.messageID)
	o.str("recipientAddress", r.victim.Email)
	o.str("senderAddress", r.sender)
	o.str("senderIpAddress", r.senderIP)
	o.str("subject", r.subject)
	o.boolean("taggedExternal", true)
	o.boolean("taggedMalicious", r.core.malicious)
	o.endObject()
}

// fakeIP is a public-looking address from the documentation ranges (RFC 5737).
func fakeIP(r uint64) string {
	return fakeIPNets[r%3] + "." + strconv.FormatUint(1+(r>>8)%254, 10)
}

var fakeIPNets = [3]string{"192.0.2", "198.51.100", "203.0.113"}

// anyEqualFold reports whether any of want is in have, ignoring case.
func anyEqualFold(want, have []string) bool {
	for _, a := range want {
		for _, b := range have {
			if strings.EqualFold(a, b) {
				return true
			}
		}
	}
	return false
}
