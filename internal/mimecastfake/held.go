package mimecastfake

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// routesHeld registers the hold queue and the held-message release log (Mimecast API docs).
func (s *Server) routesHeld() {
	s.handleAPI("/api/gateway/get-hold-message-list", ProductHeld, s.handleHoldList)
	s.handleAPI("/api/gateway/get-held-release-logs", ProductHeld, s.handleHeldReleaseLogs)
}

type heldReason struct {
	reason, id, policy string
}

var heldReasons = []heldReason{
	{"Message Hold Applied - Spam Signature policy", "MESSAGE_HOLD_APPLIED_SPAM_SIGNATURE_POLICY", "Relaxed Spam Detection"},
	{"Attachment Hold Applied - Attachment Management policy", "ATTACHMENT_HOLD_APPLIED_ATTACHMENT_MANAGEMENT_POLICY", "Hold Executables"},
	{"Message Hold Applied - Content Examination policy", "MESSAGE_HOLD_APPLIED_CONTENT_EXAMINATION_POLICY", "Block Card Numbers Outbound"},
	{"Message Hold Applied - Impersonation Protect policy", "MESSAGE_HOLD_APPLIED_IMPERSONATION_PROTECT_POLICY", "Impersonation Protect - Hold"},
	{"Message Hold Applied - Potentially Malicious URL", "MESSAGE_HOLD_APPLIED_POTENTIALLY_MALICIOUS_URL", "URL Protect - Hold"},
}

var legitSenders = []address{
	{"Newsletter", "news@updates.example.com"}, {"Vendor Billing", "billing@vendor.example.org"},
	{"Conference Team", "events@conference.example.net"},
}

// heldMail is held message (or release log entry) i of a feed; cheap enough to build while
// scanning for a search filter.
type heldMail struct {
	reason   heldReason
	route    string // inbound | outbound | internal
	from, to address
	subject  string
	attach   bool
	size     int
	at       time.Time
}

func (s *Server) heldMail(f alertFeed, i int) heldMail {
	t := s.tenant
	h := heldMail{reason: heldReasons[weighted(f.rnd(i, 3), 45, 15, 10, 15, 15)], route: "inbound", at: f.at(i)}
	user := t.mailbox(f.pick(i, 2, t.mailboxCount()))
	me := address{Name: user.Name, Email: user.Email}
	if h.reason.id == "MESSAGE_HOLD_APPLIED_CONTENT_EXAMINATION_POLICY" {
		// Data-leak holds are on mail the tenant's own users send.
		h.route = "outbound"
		h.from, h.to = me, address{Email: fmt.Sprintf("partner%d@external%d.example.net", f.pick(i, 4, 50), f.pick(i, 5, 4))}
		if f.pick(i, 6, 3) == 0 {
			h.route = "internal"
			other := t.mailbox(f.pick(i, 7, t.mailboxCount()))
			h.to = address{Name: other.Name, Email: other.Email}
		}
		h.subject = fmt.Sprintf("Customer card list %d", f.pick(i, 8, 100))
	} else {
		if f.pick(i, 9, 4) == 0 {
			h.from = legitSenders[f.pick(i, 10, len(legitSenders))]
			h.subject = fmt.Sprintf("Your weekly digest #%d", f.pick(i, 8, 500))
		} else {
			k := f.pick(i, 10, len(threatSenders))
			h.from = address{Name: threatSenderNames[k], Email: threatSenders[k]}
			h.subject = threatSubjects[f.pick(i, 8, len(threatSubjects))]
		}
		h.to = me
	}
	h.attach = h.reason.id == "ATTACHMENT_HOLD_APPLIED_ATTACHMENT_MANAGEMENT_POLICY" || f.pick(i, 11, 3) == 0
	h.size = 3000 + f.pick(i, 12, 40000)
	return h
}

type fieldValue struct {
	FieldName string `json:"fieldName"`
	Value     string `json:"value"`
}

// ---- get-hold-message-list -----------------------------------------------------------------

type holdListFilter struct {
	Admin    bool         `json:"admin"`
	Start    string       `json:"start,omitempty"`
	End      string       `json:"end,omitempty"`
	SearchBy *fieldValue  `json:"searchBy,omitempty"`
	FilterBy []fieldValue `json:"filterBy,omitempty"`
}

func (s *Server) handleHoldList(w http.ResponseWriter, _ *http.Request, req *apiRequest) {
	const endpoint = "/api/gateway/get-hold-message-list"
	var flt holdListFilter
	key, ok := decodeItem(w, req, &flt)
	if !ok {
		return
	}
	if flt.SearchBy != nil && !checkEnum(w, key, "searchBy.fieldName", flt.SearchBy.FieldName, "all", "subject", "sender", "recipient", "reason_code") {
		return
	}
	route := ""
	for _, fb := range flt.FilterBy {
		switch strings.ToLower(fb.FieldName) {
		case "route":
			if !checkEnum(w, key, "filterBy.value", fb.Value, "all", "internal", "outbound", "inbound", "external") {
				return
			}
			route = strings.ToLower(fb.Value)
		case "heldgroup":
			// Accepted and not modelled: every generated hold is visible to an administrator.
		default:
			writeFieldFail(w, key, errCodeInvalidValue, "filterBy.fieldName", fmt.Sprintf("filterBy field %q is not one of route, heldGroup", fb.FieldName))
			return
		}
	}
	cur, size, ok := s.openAPIPage(w, endpoint, req, key, flt)
	if !ok {
		return
	}
	h := cur.horizon()
	start, end, ok := checkTimeRange(w, key, "start", flt.Start, "end", flt.End, time.Time{}, h)
	if !ok {
		return
	}
	f := s.tenant.alertFeed(feedHoldList)
	lo, hi := f.between(start, end, h)
	if !flt.Admin {
		// admin=false lists the caller's own held mail; an API application has no mailbox.
		lo, hi = 0, 0
	}
	walk := recordWalk{lo: lo, hi: hi}
	if (route != "" && route != "all") || flt.SearchBy != nil && flt.SearchBy.Value != "" {
		walk.match = func(i int) bool {
			m := s.heldMail(f, i)
			return routeMatches(route, m.route) && (flt.SearchBy == nil || heldSearchMatches(m, *flt.SearchBy))
		}
	}
	s.servePage(w, req.Meta.Pagination.PageToken, cur, size, s.lateIndexed(f, h, walk),
		jsonRecord(func(i int) any { return s.holdItem(f, i) }), pageShape{})
}

func routeMatches(want, got string) bool {
	switch want {
	case "", "all":
		return true
	case "external":
		return got != "internal"
	}
	return want == got
}

func heldSearchMatches(m heldMail, sb fieldValue) bool {
	v := sb.Value
	switch strings.ToLower(sb.FieldName) {
	case "subject":
		return containsFold(m.subject, v)
	case "sender":
		return containsFold(m.from.Email, v)
	case "recipient":
		return containsFold(m.to.Email, v)
	case "reason_code":
		return containsFold(m.reason.id, v)
	}
	return containsFold(m.subject, v) || containsFold(m.from.Email, v) || containsFold(m.to.Email, v) || containsFold(m.reason.id, v)
}

// heldIDPrefix starts the ids of held messages (as in Mimecast's samples).
const heldIDPrefix = "eNpVzskO"

// heldID is the id of held message i: it names an archived message of the held user's mailbox,
// so the archive's content endpoints take it as Mimecast's take a held message's id, and ends
// in i so that each held message has its own.
func (s *Server) heldID(f alertFeed, i int) string {
	t := s.tenant
	m := f.pick(i, 2, t.mailboxCount()) // the mailbox heldMail picks
	n := f.pick(i, 31, max(t.sizes.MessagesPerMailbox, 1))
	return fmt.Sprintf("%s%s%08x", heldIDPrefix, s.archiveID(m, n, 0), uint32(i))
}

// heldArchiveID is the archive id inside a held message's id, or id itself.
func heldArchiveID(id string) string {
	if rest, ok := strings.CutPrefix(id, heldIDPrefix); ok && len(rest) > 8 {
		return rest[:len(rest)-8]
	}
	return id
}

func (s *Server) holdItem(f alertFeed, i int) map[string]any {
	m := s.heldMail(f, i)
	addr := func(a address) map[string]any {
		return map[string]any{"emailAddress": a.Email, "displayableName": a.Name}
	}
	return map[string]any{
		"id":             s.heldID(f, i),
		"reason":         m.reason.reason,
		"reasonId":       m.reason.id,
		"reasonCode":     strings.ToLower(m.reason.id),
		"from":           addr(m.from),
		"fromHeader":     addr(m.from),
		"to":             addr(m.to),
		"toHeader":       addr(m.to),
		"subject":        m.subject,
		"route":          strings.ToUpper(m.route),
		"hasAttachments": m.attach,
		"size":           m.size,
		"dateReceived":   formatAPITime(m.at),
		"policyInfo":     m.reason.policy,
	}
}

// ---- get-held-release-logs -----------------------------------------------------------------

type releaseLogFilter struct {
	Start    string       `json:"start,omitempty"`
	End      string       `json:"end,omitempty"`
	SearchBy *fieldValue  `json:"searchBy,omitempty"`
	FilterBy []fieldValue `json:"filterBy,omitempty"`
}

// released holds what the release-log filters look at besides the held mail.
type released struct {
	held     heldMail
	rejected bool
	operator string
}

func (s *Server) releasedMail(f alertFeed, i int) released {
	r := released{held: s.heldMail(f, i), rejected: f.pick(i, 20, 3) == 0}
	r.operator = fmt.Sprintf("admin%d@%s", f.pick(i, 21, 3), s.tenant.domains[0].Name)
	return r
}

func (s *Server) handleHeldReleaseLogs(w http.ResponseWriter, _ *http.Request, req *apiRequest) {
	const endpoint = "/api/gateway/get-held-release-logs"
	var flt releaseLogFilter
	key, ok := decodeItem(w, req, &flt)
	if !ok {
		return
	}
	if flt.SearchBy != nil && !checkEnum(w, key, "searchBy.fieldName", flt.SearchBy.FieldName,
		"all", "operator", "from", "to", "subject", "info", "heldreason") {
		return
	}
	for _, fb := range flt.FilterBy {
		if !checkEnum(w, key, "filterBy.fieldName", fb.FieldName, "route", "status", "attachments") {
			return
		}
	}
	cur, size, ok := s.openAPIPage(w, endpoint, req, key, flt)
	if !ok {
		return
	}
	h := cur.horizon()
	// The documented default window is one month back.
	start, end, ok := checkTimeRange(w, key, "start", flt.Start, "end", flt.End, h.AddDate(0, -1, 0), h)
	if !ok {
		return
	}
	f := s.tenant.alertFeed(feedHeldReleaseLogs)
	lo, hi := f.between(start, end, h)
	walk := recordWalk{lo: lo, hi: hi}
	if len(flt.FilterBy) > 0 || flt.SearchBy != nil && flt.SearchBy.Value != "" {
		walk.match = func(i int) bool { return releaseMatches(s.releasedMail(f, i), flt) }
	}
	s.servePage(w, req.Meta.Pagination.PageToken, cur, size, s.lateIndexed(f, h, walk),
		jsonRecord(func(i int) any { return s.releaseLog(f, i) }), pageShape{name: "heldReleaseLogs"})
}

func releaseMatches(r released, flt releaseLogFilter) bool {
	status := "released"
	if r.rejected {
		status = "rejected"
	}
	for _, fb := range flt.FilterBy {
		v := strings.ToLower(fb.Value)
		switch strings.ToLower(fb.FieldName) {
		case "route":
			if !routeMatches(v, r.held.route) {
				return false
			}
		case "status":
			if v != "" && v != "all" && v != status {
				return false
			}
		case "attachments":
			if (v == "true") != r.held.attach && v != "" && v != "all" {
				return false
			}
		}
	}
	if flt.SearchBy == nil || flt.SearchBy.Value == "" {
		return true
	}
	v := flt.SearchBy.Value
	m := r.held
	switch strings.ToLower(flt.SearchBy.FieldName) {
	case "operator":
		return containsFold(r.operator, v)
	case "from":
		return containsFold(m.from.Email, v)
	case "to":
		return containsFold(m.to.Email, v)
	case "subject":
		return containsFold(m.subject, v)
	case "info", "heldreason":
		return containsFold(m.reason.reason, v)
	}
	return containsFold(r.operator, v) || containsFold(m.from.Email, v) || containsFold(m.to.Email, v) ||
		containsFold(m.subject, v) || containsFold(m.reason.reason, v)
}

func (s *Server) releaseLog(f alertFeed, i int) map[string]any {
	r := s.releasedMail(f, i)
	m := r.held
	status, rejectReason, info := "released", any(nil), "Released by administrator"
	if r.rejected {
		status, rejectReason, info = "rejected", "Message rejected by administrator", "Rejected by administrator"
	}
	spam := 2 + f.pick(i, 22, 15)
	allow := func(ok bool, info string) map[string]any { return map[string]any{"allow": ok, "info": info} }
	decision, risk := "clean", "low"
	if spam > 10 {
		decision, risk = "spam", "high"
	}
	return map[string]any{
		"id":           fmt.Sprintf("eNpVjk1r%016x", f.rnd(i, 30)),
		"status":       status,
		"rejectReason": rejectReason,
		"heldReason":   m.reason.reason,
		"messageInfo":  info,
		// Released shortly after the hold; the log is ordered by this time.
		"released":    formatAPITime(f.at(i)),
		"operator":    map[string]any{"emailAddress": r.operator},
		"fromEnv":     map[string]any{"emailAddress": m.from.Email},
		"fromHdr":     map[string]any{"emailAddress": m.from.Email},
		"to":          []any{map[string]any{"emailAddress": m.to.Email}},
		"subject":     m.subject,
		"attachments": m.attach,
		"route":       m.route,
		"size":        m.size,
		"policy":      m.reason.policy,
		"spamScore":   spam,
		"detectionLevel": func() string {
			if spam > 10 {
				return "aggressive"
			}
			return "relaxed"
		}(),
		"spamProcessingDetail": map[string]any{
			"rbl": allow(true, ""), "greyEmail": allow(true, ""), "spf": allow(spam < 12, "pass"),
			"dkim": allow(true, "unknown"), "dmarc": allow(spam < 12, "pass"),
			"permittedSender": allow(false, "none"), "managedSender": allow(false, "none"),
			"verdict": map[string]any{
				"decision": decision, "description": "Spam scan verdict", "risk": risk,
				"categories": []any{map[string]any{"name": "spam", "risk": risk, "subcategories": []any{
					map[string]any{"name": "bulk", "risk": risk, "augmentations": []any{}}}}},
			},
		},
	}
}
