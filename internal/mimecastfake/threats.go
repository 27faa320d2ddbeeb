package mimecastfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// GET /threats/v1/events is the least certain endpoint the fake serves: parameter
// names come from one likely generated client and the response shape is unknown. The fake
// takes the documented parameters and answers in the shape of Options.ThreatsShape.

// routesThreats registers the REST threat-event list.
func (s *Server) routesThreats() {
	s.handleREST("GET /threats/v1/events", "/threats/v1/events", ProductThreats, s.handleThreatEvents)
}

// Page sizes of the REST threat list: 1-100 as far as known; larger values are clamped.
const (
	threatsDefaultPageSize = 25
	threatsMaxPageSize     = 100
)

var (
	threatAnalyses = []string{"malware", "phishing", "spam", "suspicious", "unwanted"}
	threatStatuses = []string{"blocked", "rejected", "delivered", "held", "bounced", "unknown"}
	threatSources  = []string{"email", "url"}
)

// threat holds the attributes of event i that filters look at.
type threat struct {
	analysis string
	status   string
	source   string
}

func threatCore(f alertFeed, i int) threat {
	t := threat{analysis: threatAnalyses[weighted(f.rnd(i, 3), 20, 35, 25, 12, 8)], source: "email"}
	if f.pick(i, 4, 10) < 3 {
		// A URL threat is a click on a link of mail that was delivered.
		t.source = "url"
		t.status = []string{"blocked", "delivered"}[f.pick(i, 5, 2)]
		return t
	}
	t.status = threatStatuses[weighted(f.rnd(i, 5), 30, 15, 25, 20, 10)]
	return t
}

// weighted picks an index with the given relative weights.
func weighted(r uint64, weights ...int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := int(r % uint64(total))
	for k, w := range weights {
		if x < w {
			return k
		}
		x -= w
	}
	return len(weights) - 1
}

// threatFilter is the parsed query; it is also the page token's fingerprint.
type threatFilter struct {
	From      string   `json:"from"`
	To        string   `json:"to,omitempty"`
	Analysis  []string `json:"analysis,omitempty"`
	Status    []string `json:"status,omitempty"`
	Source    []string `json:"source,omitempty"`
	Direction string   `json:"direction,omitempty"`
	Ascending bool     `json:"asc,omitempty"`
}

// queryList reads a list parameter sent either repeated (a=x&a=y) or comma-separated (a=x,y).
func queryList(q url.Values, name string) []string {
	var out []string
	for _, v := range q[name] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (s *Server) handleThreatEvents(w http.ResponseWriter, r *http.Request) {
	const endpoint = "/threats/v1/events"
	q := r.URL.Query()
	flt := threatFilter{
		From: q.Get("timestampRangeStartsAt"), To: q.Get("timestampRangeEndsAt"),
		Analysis: queryList(q, "analysis"), Status: queryList(q, "status"), Source: queryList(q, "source"),
		Direction: strings.ToLower(q.Get("direction")),
	}
	bad := func(msg string) { writeSIEMError(w, http.StatusBadRequest, "Request Validation Failed", msg) }
	if flt.From == "" {
		bad("timestampRangeStartsAt is required")
		return
	}
	for _, c := range []struct {
		name    string
		got     []string
		allowed []string
	}{{"analysis", flt.Analysis, threatAnalyses}, {"status", flt.Status, threatStatuses}, {"source", flt.Source, threatSources}} {
		for _, v := range c.got {
			if !slices.Contains(c.allowed, v) {
				bad(fmt.Sprintf("%s %q is not one of %s", c.name, v, strings.Join(c.allowed, ", ")))
				return
			}
		}
	}
	if flt.Direction != "" && flt.Direction != "inbound" {
		bad("direction must be inbound")
		return
	}
	switch ob := strings.ToLower(q.Get("orderBy")); ob {
	case "", "timestamp:desc", "timestamp desc":
	case "timestamp:asc", "timestamp asc":
		flt.Ascending = true
	default:
		bad(fmt.Sprintf("orderBy %q is not supported (timestamp:asc or timestamp:desc)", ob))
		return
	}
	size, err := parsePageSize(json.Number(q.Get("pageSize")), threatsDefaultPageSize, threatsMaxPageSize)
	if err != nil {
		bad(err.Error())
		return
	}
	token := q.Get("nextPage")
	cur, err := openCursor(token, fingerprint(endpoint, flt), s.now())
	if err != nil {
		bad("nextPage is invalid or does not belong to this request")
		return
	}
	if token != "" && s.takeFault(faultRefusePageTokens) {
		bad("nextPage has expired")
		return
	}
	h := cur.horizon()
	from, to, field, err := timeRange("timestampRangeStartsAt", flt.From, "timestampRangeEndsAt", flt.To, h, h)
	if err != nil {
		bad(fmt.Sprintf("%s: %v", field, err))
		return
	}
	f := s.tenant.alertFeed(feedThreatEvents)
	lo, hi := f.between(from, to, h)
	walk := recordWalk{lo: lo, hi: hi, oldestFirst: flt.Ascending}
	if len(flt.Analysis)+len(flt.Status)+len(flt.Source) > 0 {
		walk.match = func(i int) bool {
			c := threatCore(f, i)
			return (len(flt.Analysis) == 0 || slices.Contains(flt.Analysis, c.analysis)) &&
				(len(flt.Status) == 0 || slices.Contains(flt.Status, c.status)) &&
				(len(flt.Source) == 0 || slices.Contains(flt.Source, c.source))
		}
	}
	p := s.listPage(token, cur, s.lateIndexed(f, h, walk), size)
	o := getJSONOut()
	defer putJSONOut(o)
	// Both shapes were maps, written by encoding/json in key order.
	if s.opts.ThreatsShape == ThreatsShapeEvents {
		o.b = append(o.b, '{')
		s.appendThreatEvents(o, "events", f, p.indices)
		if p.next != "" {
			o.str("nextPage", p.next)
		}
		o.num("total", p.total)
	} else {
		o.b = append(o.b, '{')
		s.appendThreatEvents(o, "data", f, p.indices)
		o.object("meta")
		o.object("pagination")
		if p.next != "" {
			o.str("next", p.next)
		}
		o.num("pageSize", len(p.indices))
		o.num("totalCount", p.total)
		o.endObject()
		o.endObject()
	}
	o.b = append(o.b, '}', '\n')
	writeJSONBytes(w, http.StatusOK, o.b)
}

func (s *Server) appendThreatEvents(o *jsonOut, key string, f alertFeed, indices []int) {
	o.array(key)
	for _, i := range indices {
		ev := s.threatEvent(f, i)
		ev.appendJSON(o)
	}
	o.endArray()
}

// threatTimeLayout is the REST endpoints' timestamp format (as the SIEM stream's).
const threatTimeLayout = "2006-01-02T15:04:05.000Z"

var (
	threatNames = map[string][]string{
		"malware":    {"Trojan.GenericKD.46789", "W97M.Downloader", "HTML/Phishing.Agent", "Emotet.Dropper"},
		"phishing":   {"Credential Phishing", "Brand Impersonation - Microsoft", "Business Email Compromise"},
		"spam":       {"Bulk Marketing", "Spam Signature", "Snowshoe Spam"},
		"suspicious": {"Newly Observed Domain", "Suspicious Attachment Type", "Reply-To Mismatch"},
		"unwanted":   {"Graymail", "Newsletter", "Unwanted Sender"},
	}
	threatSeverity = map[string]string{"malware": "critical", "phishing": "high", "suspicious": "medium", "spam": "low", "unwanted": "low"}
)

func addrDomain(addr string) string {
	if k := strings.LastIndexByte(addr, '@'); k >= 0 {
		return addr[k+1:]
	}
	return ""
}

// threatEvent is one event of GET /threats/v1/events.
type threatEvent struct {
	core                        threat
	id                          uint64
	at                          time.Time
	threatName                  string
	messageID, subject          string
	sender, recipient, senderIP string
	urlTmpl                     string // url protect events: one %d, filled with urlNum
	urlNum                      uint64
	fileNum                     uint64 // malware events: fileName and fileHash
	fileHash                    [4]uint64
}

func (s *Server) threatEvent(f alertFeed, i int) threatEvent {
	c := threatCore(f, i)
	var mail mailRef
	if c.status == "delivered" || c.source == "url" {
		msg := s.ttpMessage(f, i, false, c.analysis == "malware")
		mail = mailRef{messageID: msg.msgID, from: msg.from, to: msg.to[0], subject: msg.subject,
			senderIP: fakeIP(detHash(s.tenant.seed, kindMsg, msg.m, msg.n, 300))}
	} else {
		mail = s.alertMailRef(feedThreatEvents, i)
	}
	names := threatNames[c.analysis]
	ev := threatEvent{
		core: c, id: f.rnd(i, 50), at: f.at(i), threatName: names[f.pick(i, 51, len(names))],
		messageID: mail.messageID, subject: mail.subject, sender: mail.from.Email, recipient: mail.to.Email,
		senderIP: mail.senderIP,
	}
	if c.source == "url" {
		ev.urlTmpl, ev.urlNum = maliciousURLs[f.pick(i, 52, len(maliciousURLs))], f.rnd(i, 53)%100000
	}
	if c.analysis == "malware" {
		ev.fileNum = f.rnd(i, 54) % 10000
		ev.fileHash = [4]uint64{f.rnd(i, 55), f.rnd(i, 56), f.rnd(i, 57), f.rnd(i, 58)}
	}
	return ev
}

// appendJSON writes the event with its members in key order (it was a map).
func (ev *threatEvent) appendJSON(o *jsonOut) {
	malware := ev.core.analysis == "malware"
	o.beginObject()
	o.str("analysis", ev.core.analysis)
	o.str("direction", "inbound")
	if malware {
		o.hex16("fileHash", "", ev.fileHash[:]...)
		o.strNum("fileName", "invoice_%d.zip", ev.fileNum)
	}
	o.hex16("id", "evt_", ev.id)
	o.str("messageId", ev.messageID)
	o.str("recipientAddress", ev.recipient)
	o.str("senderAddress", ev.sender)
	o.str("senderDomain", addrDomain(ev.sender))
	o.str("senderIp", ev.senderIP)
	o.str("severity", threatSeverity[ev.core.analysis])
	o.str("source", ev.core.source)
	o.str("status", ev.core.status)
	o.str("subject", ev.subject)
	o.str("threatName", ev.threatName)
	o.time("timestamp", ev.at, threatTimeLayout)
	if ev.core.source == "url" {
		o.strNum("url", ev.urlTmpl, ev.urlNum)
	}
	o.endObject()
}
