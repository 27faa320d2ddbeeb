package mimecastfake

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// routesTTP registers the three Targeted Threat Protection log lists (notes §2.2).
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
	var first archMsg
	for k := 0; k < 12 && n-k >= 0; k++ {
		msg := t.trackedMail(m, n-k)
		if k == 0 {
			first = msg
		}
		if msg.sent == outbound && (!needAttachment || len(msg.atts) > 0) {
			return msg
		}
	}
	return first
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
	s.servePage(w, req.Meta.Pagination.PageToken, cur, size, walk,
		func(i int) any { return s.urlClickRecord(f, i) }, wrapNamed("clickLogs"))
}

func (s *Server) urlClickRecord(f alertFeed, i int) map[string]any {
	c := urlClickCore(f, i)
	msg := s.ttpMessage(f, i, c.outbound, false)
	route, definition := "inbound", "Default Inbound URL Protect Definition"
	clicker, sender := msg.to[0].Email, msg.from.Email
	if c.outbound {
		route, definition = "outbound", "Default Outbound URL Protect Definition"
	}
	urls, cats := cleanURLs, cleanCategories
	action, actions, scan, awareness := "allow", "Allow", "clean", "N/A"
	tagMap := map[string]any{}
	if c.malicious {
		urls, cats, scan = maliciousURLs, maliciousCategories, "malicious"
		switch f.pick(i, 5, 10) {
		case 0, 1:
			action, actions, awareness = "warn", "Browser Isolation", "Continue"
		default:
			action, actions = "block", "Block"
		}
		tagMap = map[string]any{"UrlReputationScan": map[string]any{
			"Status": []string{"Malicious"}, "Type": []string{cats[f.pick(i, 6, len(cats))]}}}
	}
	creation := "User Click"
	if f.pick(i, 7, 5) == 0 {
		creation = "Entry Scan"
	}
	parts := []string{"Body"}
	if len(msg.atts) > 0 && f.pick(i, 8, 3) == 0 {
		parts = []string{"Attachment"}
	}
	sendingIP := fakeIP(f.rnd(i, 9))
	if c.outbound {
		sendingIP = "Internal IP"
	}
	return map[string]any{
		"userEmailAddress":      clicker,
		"fromUserEmailAddress":  sender,
		"url":                   fmt.Sprintf(urls[f.pick(i, 10, len(urls))], f.rnd(i, 11)%100000),
		"ttpDefinition":         definition,
		"subject":               msg.subject,
		"action":                action,
		"adminOverride":         "N/A",
		"userOverride":          "None",
		"scanResult":            scan,
		"category":              cats[f.pick(i, 6, len(cats))],
		"sendingIp":             sendingIP,
		"userAwarenessAction":   awareness,
		"date":                  formatAPITime(f.at(i)),
		"actions":               actions,
		"route":                 route,
		"creationMethod":        creation,
		"emailPartsDescription": parts,
		"messageId":             msg.msgID,
		"tagMap":                tagMap,
	}
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
	s.servePage(w, req.Meta.Pagination.PageToken, cur, size, walk,
		func(i int) any { return s.attachmentRecord(f, i) }, wrapNamed("attachmentLogs"))
}

func attachmentOutbound(f alertFeed, i int) bool { return f.pick(i, 3, 100) < 10 }

func (s *Server) attachmentRecord(f alertFeed, i int) map[string]any {
	out := attachmentOutbound(f, i)
	msg := s.ttpMessage(f, i, out, true)
	result := attachmentResults[f.pick(i, 4, len(attachmentResults))]
	fileName, fileType := "document.pdf", "application/pdf"
	if len(msg.atts) > 0 {
		a := msg.atts[f.pick(i, 5, len(msg.atts))]
		fileName, fileType = a.filename, a.contentType
	}
	route := "inbound"
	if out {
		route = "outbound"
	}
	action, details := "none, none", "Safe\r\nTime taken: %d seconds"
	switch result {
	case "malicious":
		action, details = "sandbox, hold", "Malicious\r\nThreat: Trojan.GenericKD.%d"
	case "unknown":
		action, details = "user release, none", "Unknown\r\nTime taken: %d seconds"
	case "timeout":
		action, details = "none, none", "Timeout\r\nTime taken: %d seconds"
	}
	var hash [32]byte
	for k := range 4 {
		v := f.rnd(i, 20+uint64(k))
		for b := range 8 {
			hash[k*8+b] = byte(v >> (8 * b))
		}
	}
	return map[string]any{
		"senderAddress":    msg.from.Email,
		"recipientAddress": msg.to[0].Email,
		"fileName":         fileName,
		"fileType":         fileType,
		"result":           result,
		"actionTriggered":  action,
		"date":             formatAPITime(f.at(i)),
		"details":          fmt.Sprintf(details, 20+f.pick(i, 6, 300)),
		"route":            route,
		"messageId":        msg.msgID,
		"subject":          msg.subject,
		"fileHash":         hex.EncodeToString(hash[:]),
		"definition":       "Default Attachment Protect Definition",
	}
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
	s.servePage(w, req.Meta.Pagination.PageToken, cur, size, walk,
		func(i int) any { return s.impersonationRecord(f, i) },
		func(recs []any, total int) any {
			// resultCount sits beside the list, as in the notes' sample; the fake reports the
			// number of matching records there.
			return []any{map[string]any{"impersonationLogs": recs, "resultCount": total}}
		})
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
	has := func(k string) bool { return strings.Contains(strings.ToLower(rec[k].(string)), q) }
	switch strings.ToLower(flt.SearchField) {
	case "senderaddress":
		return has("senderAddress")
	case "recipientaddress":
		return has("recipientAddress")
	case "subject":
		return has("subject")
	case "policy":
		return has("definition")
	default:
		return has("senderAddress") || has("recipientAddress") || has("subject") || has("definition")
	}
}

func (s *Server) impersonationRecord(f alertFeed, i int) map[string]any {
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
	victim := mail.to
	results := make([]map[string]any, 0, len(c.identifiers))
	for _, id := range c.identifiers {
		similar, str := "corp0-example.com", "corp0.example.com"
		if id == "internal_user_name" || id == "custom_name_list" {
			similar, str = fmt.Sprintf("%s <%s>", victim.Name, victim.Email), victim.Name
		}
		results = append(results, map[string]any{
			"impersonationDomainSource": id,
			"similarDomain":             similar,
			"stringSimilarToDomain":     str,
			"checkerResult":             "hit",
		})
	}
	return map[string]any{
		"id":                   fmt.Sprintf("MTOKEN:eNq%016x", f.rnd(i, 30)),
		"senderAddress":        mail.from.Email,
		"recipientAddress":     victim.Email,
		"subject":              mail.subject,
		"definition":           fmt.Sprintf("IP - %d hit (Tag email)", len(c.identifiers)),
		"hits":                 len(c.identifiers),
		"identifiers":          c.identifiers,
		"action":               c.action,
		"taggedExternal":       true,
		"taggedMalicious":      c.malicious,
		"senderIpAddress":      fakeIP(f.rnd(i, 9)),
		"eventTime":            formatAPITime(f.at(i)),
		"impersonationResults": results,
		"messageId":            mail.messageID,
	}
}

// fakeIP is a public-looking address from the documentation ranges (RFC 5737).
func fakeIP(r uint64) string {
	nets := []string{"192.0.2", "198.51.100", "203.0.113"}
	return fmt.Sprintf("%s.%d", nets[r%3], 1+(r>>8)%254)
}

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
