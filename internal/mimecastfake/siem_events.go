package mimecastfake

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// siemTypes are the CG event types of the SIEM endpoints (notes §2.1.d), in the order the
// batch listing walks them when no type is asked for.
var siemTypes = [...]string{
	"receipt", "process", "delivery", "av", "spam", "internal email protect",
	"impersonation protect", "url protect", "attachment protect", "journal",
}

func siemTypeIndex(name string) int {
	for i, t := range siemTypes {
		if t == name {
			return i
		}
	}
	return -1
}

const (
	// siemBatchWindow is how often live batch files appear (notes §2.1.a: "every 15 minutes").
	siemBatchWindow = 15 * time.Minute
	// siemRetention is how far back batch files are listed (notes §2.1.a: 7 days).
	siemRetention = 7 * 24 * time.Hour
	// siemStreamRetention is the window of the stream endpoint (notes §2.1.b: 24 hours).
	siemStreamRetention = 24 * time.Hour

	siemDefaultEventsPerFile = 500
	hourMs                   = int64(time.Hour / time.Millisecond)
	siemWindowMs             = int64(siemBatchWindow / time.Millisecond)
)

// siemFeed is the event stream of every SIEM type: per type, Sizes.EventsPerFeed backlog events
// spread over [Anchor-Span, Anchor], then Sizes.LiveEventsPerHour live events per hour, event j
// becoming available at the end of its slot Anchor + [j, j+1) h/rate. Event times never decrease
// with the index, so time bounds become index bounds by binary search; nothing is stored.
//
// Batch files are index ranges: the backlog in chunks of perFile events, and each 15-minute
// window after Anchor in chunks of perFile, listed once the window has closed.
type siemFeed struct {
	seed     int64
	anchorMs int64
	spanMs   int64
	backlog  int
	rate     int64
	perFile  int
}

func (s *Server) siemFeed() siemFeed {
	per := s.opts.Sizes.SIEMEventsPerFile
	if per <= 0 {
		per = siemDefaultEventsPerFile
	}
	return siemFeed{
		seed:     s.opts.Seed,
		anchorMs: s.opts.Anchor.UnixMilli(),
		spanMs:   s.opts.Sizes.Span.Milliseconds(),
		backlog:  s.opts.Sizes.EventsPerFeed,
		rate:     int64(s.opts.Sizes.LiveEventsPerHour),
		perFile:  per,
	}
}

// eventTime is the epoch-ms timestamp of event i of type ti.
func (f siemFeed) eventTime(ti, i int) int64 {
	if i < f.backlog {
		lo := f.spanMs * int64(i) / int64(f.backlog)
		hi := f.spanMs * int64(i+1) / int64(f.backlog)
		return f.anchorMs - f.spanMs + lo + int64(detHash(f.seed, kindSIEMTime, ti, i, 0)%uint64(max(hi-lo, 1)))
	}
	j := int64(i - f.backlog)
	lo := j * hourMs / f.rate
	hi := (j + 1) * hourMs / f.rate
	return f.anchorMs + lo + int64(detHash(f.seed, kindSIEMTime, ti, i, 0)%uint64(max(hi-lo, 1)))
}

// liveCount is how many live events have become available by tMs.
func (f siemFeed) liveCount(tMs int64) int {
	if f.rate <= 0 || tMs <= f.anchorMs {
		return 0
	}
	return int((tMs - f.anchorMs) * f.rate / hourMs)
}

// available is the number of events of a type that exist at nowMs.
func (f siemFeed) available(nowMs int64) int { return f.backlog + f.liveCount(nowMs) }

// firstAtOrAfter is the smallest index in [0, limit) whose event is at or after tMs (limit if
// none is).
func (f siemFeed) firstAtOrAfter(ti int, tMs int64, limit int) int {
	return sort.Search(limit, func(i int) bool { return f.eventTime(ti, i) >= tMs })
}

// siemFile is a batch file: events [start, end) of type ti. Flags mark injected faults; they
// travel in the signed URL so the same URL always serves the same bytes.
type siemFile struct {
	ti, start, end int
	flags          int
}

const (
	fileTruncated = 1 << iota
	fileMalformed
)

// fileFrom is the file that starts at cursor c: up to the end of c's chunk. ok is false when
// that file does not exist yet (its window has not closed by nowMs, or there is no live feed).
func (f siemFeed) fileFrom(ti, c int, nowMs int64) (siemFile, bool) {
	if c < f.backlog {
		return siemFile{ti: ti, start: c, end: min(f.backlog, (c/f.perFile+1)*f.perFile)}, true
	}
	if f.rate <= 0 {
		return siemFile{}, false
	}
	j := int64(c - f.backlog)
	// Event j is available at Anchor + (j+1)h/rate, which falls in window w = ceil(...) - 1.
	w := ceilDivInt64((j+1)*hourMs, siemWindowMs*f.rate) - 1
	if nowMs < f.anchorMs+(w+1)*siemWindowMs {
		return siemFile{}, false
	}
	j0 := w * siemWindowMs * f.rate / hourMs
	j1 := (w + 1) * siemWindowMs * f.rate / hourMs
	end := min(j1, j0+((j-j0)/int64(f.perFile)+1)*int64(f.perFile))
	return siemFile{ti: ti, start: c, end: f.backlog + int(end)}, true
}

func ceilDivInt64(a, b int64) int64 { return (a + b - 1) / b }

// siemEventFields builds the batch-file record of event i of type ti (notes §2.1.e): type and
// subtype naming, epoch-ms timestamp, numbers and booleans as strings, and the Message-ID of
// an archived message, so enrichment and archive lookups find it. Records of the same index
// of different types describe the same message (receipt → process → delivery ...).
func (s *Server) siemEventFields(f siemFeed, ti, i int) map[string]any {
	ts := f.eventTime(ti, i)
	typ := siemTypes[ti]
	r := func(salt int) uint64 { return detHash(f.seed, kindSIEMEvent, ti, i, salt) }
	pick := func(salt int, opts ...string) string { return opts[r(salt)%uint64(len(opts))] }

	mbox := int(detHash(f.seed, kindSIEMEvent, -1, i, 0) % uint64(max(1, s.tenant.mailboxCount())))
	at := time.UnixMilli(ts).UTC()
	n := s.tenant.messageBefore(mbox, at)
	msg := buildMessage(f.seed, s.tenant.mailbox(mbox), mbox, n, s.tenant.messageReceived(mbox, n), s.tenant.messageID(mbox, n), s.opts.Sizes)

	direction, route := "Inbound", "inbound"
	if msg.sent {
		direction, route = "Outbound", "outbound"
	}
	var recipients []string
	for _, a := range msg.to {
		recipients = append(recipients, a.Email)
	}
	senderIP := fmt.Sprintf("198.51.100.%d", 1+detHash(f.seed, kindSIEMEvent, mbox, n, 3)%254)
	attSize := 0
	for _, a := range msg.atts {
		attSize += a.size
	}
	emailSize := strconv.Itoa(4096 + attSize*4/3)

	e := map[string]any{
		"_offset":      i,
		"_partition":   ti,
		"accountId":    s.accountCode(),
		"aggregateId":  siemID(detHash(f.seed, kindSIEMEvent, mbox, n, 1), msg.received.Unix()),
		"processingId": siemID(r(1), ts/1000),
		"timestamp":    ts,
		"type":         typ,
		"messageId":    msg.msgID,
		"subject":      msg.subject,
	}
	set := func(kv ...string) {
		for k := 0; k+1 < len(kv); k += 2 {
			e[kv[k]] = kv[k+1]
		}
	}
	set("senderEnvelope", msg.from.Email, "recipients", strings.Join(recipients, ","))
	var fileName, fileExt, fileMime string
	fileSize := 0
	if len(msg.atts) > 0 {
		a := msg.atts[r(9)%uint64(len(msg.atts))]
		fileName, fileExt, fileMime, fileSize = a.filename, a.ext, a.contentType, a.size
	} else {
		fileName, fileExt, fileMime, fileSize = fmt.Sprintf("payload-%d.zip", i), "zip", "application/zip", 2048
	}
	hashes := func() {
		set("fileName", fileName, "fileExtension", fileExt,
			"md5", hexDigest(r(20), 16), "sha1", hexDigest(r(21), 20), "sha256", hexDigest(r(22), 32))
	}

	switch typ {
	case "receipt":
		action := pick(10, "Acc", "Acc", "Acc", "Acc", "Acc", "Acc", "Acc", "Acc", "Rej", "Acc")
		set("subtype", action, "action", action, "direction", direction, "senderHeader", msg.from.Email,
			"senderIp", senderIP, "spamScore", strconv.Itoa(int(r(11)%10)), "spamDetectionLevel", pick(12, "relaxed", "moderate", "aggressive"),
			"spamInfo", "[]", "spamProcessingDetail", `{"spf":{"allow":true,"info":"ALLOW"},"dkim":{"allow":true,"info":"ALLOW"},"dmarc":{"allow":true,"info":"ALLOW"}}`,
			"tlsVersion", "TLSv1.3", "tlsCipher", "TLS_AES_256_GCM_SHA384", "numberAttachments", strconv.Itoa(len(msg.atts)))
		e["receiptErrors"], e["virusFound"] = nil, nil
		if action == "Rej" {
			// Rejected at the envelope: no message was accepted, so there is no Message-ID.
			e["messageId"] = nil
			set("rejectionType", "Manual Envelope Rejection", "rejectionCode", "550", "rejectionInfo", "Envelope blocked - User Entry")
		}
	case "process":
		action := pick(10, "Acc", "Acc", "Acc", "Hld", "Sdbx")
		set("subtype", action, "action", action, "numberAttachments", strconv.Itoa(len(msg.atts)),
			"totalSizeAttachments", strconv.Itoa(attSize), "emailSize", emailSize)
		e["holdReason"], e["attachments"] = nil, nil
		if action == "Hld" {
			e["holdReason"] = "Spm"
		}
		if len(msg.atts) > 0 {
			names := make([]string, len(msg.atts))
			for k, a := range msg.atts {
				names[k] = strconv.Quote(a.filename)
			}
			e["attachments"] = strings.Join(names, ",")
		}
	case "delivery":
		delivered := pick(10, "true", "true", "true", "true", "true", "true", "true", "true", "true", "false")
		set("subtype", map[string]string{"true": "Delivery", "false": "Failed"}[delivered], "delivered", delivered,
			"deliveryAttempts", strconv.Itoa(1+int(r(11)%2)), "deliveryTime", strconv.Itoa(80+int(r(12)%900)),
			"destinationIp", fmt.Sprintf("10.0.%d.%d", r(13)%8, 1+r(14)%250), "direction", direction,
			"route", "Default Delivery Route", "tlsUsed", "Yes", "tlsVersion", "TLSv1.2", "tlsCipher", "ECDHE-RSA-AES256-GCM-SHA384",
			"emailSize", emailSize, "numberAttachments", strconv.Itoa(len(msg.atts)), "totalSizeAttachments", strconv.Itoa(attSize),
			"Hostname", "mail."+s.tenant.mailbox(mbox).Domain)
		e["deliveryErrors"] = nil
		if delivered == "false" {
			set("deliveryErrors", "451 4.4.0 Temporary server error", "rejectionType", "Delivery Failure", "rejectionCode", "451", "rejectionInfo", "Remote server unavailable")
		}
	case "av":
		hashes()
		set("subtype", "Virus", "senderIp", senderIP, "senderDomain", domainOf(msg.from.Email), "senderDomainInternal", strconv.FormatBool(msg.sent),
			"route", route, "virusFound", pick(10, "Eicar-Test-Signature", "Win.Trojan.Agent", "Doc.Dropper.Emotet"), "emailSize", emailSize)
	case "spam":
		set("subtype", pick(10, "Spam", "Bulk"), "senderHeader", msg.from.Email, "senderIp", senderIP,
			"senderDomain", domainOf(msg.from.Email), "route", route, "taggedExternal", "true", "taggedMalicious", pick(11, "false", "true"))
	case "internal email protect":
		set("subtype", "Internal", "route", "internal", "scanResults", pick(10, "Blocked URL Category", "Malicious URL", "Clean"),
			"urlCategory", pick(11, "Phishing & Fraud", "Malware", "Compromised"), "monitoredDomainSource", "internal",
			"similarDomain", "n/a")
	case "impersonation protect":
		set("subtype", "Hit", "senderIp", senderIP, "route", route, "action", pick(10, "Hold", "Tag", "None"),
			"policyDefinition", "Default Impersonation Definition", "taggedMalicious", pick(11, "true", "false"), "taggedExternal", "true",
			"itemsDetected", strconv.Itoa(1+int(r(12)%3)), "newDomain", pick(13, "true", "false"), "internalUserName", pick(14, "true", "false"),
			"replyMismatch", pick(15, "false", "true"), "similarInternalDomain", pick(16, "false", "true"),
			"similarCustomExternalDomain", "false", "similarMimecastExternalDomain", "false", "customNameMatch", "false",
			"customThreatDictionary", "false", "mimecastThreatDictionary", pick(17, "false", "true"))
	case "url protect":
		action := pick(10, "Block", "Allow", "Allow")
		set("subtype", action, "action", action, "senderDomain", domainOf(msg.from.Email), "sourceIp", senderIP, "route", route,
			"url", fmt.Sprintf("https://portal.example.net/doc/%d/%d", mbox, n), "urlCategory", pick(11, "Phishing & Fraud", "Business", "Unknown"),
			"blockReason", map[string]string{"Block": "Malicious", "Allow": "n/a"}[action], "analysis", pick(12, "Malicious", "Clean", "Suspicious"))
	case "attachment protect":
		hashes()
		set("subtype", pick(10, "Safe", "Safe", "Malicious"), "senderIp", senderIP, "senderDomain", domainOf(msg.from.Email),
			"customerIp", fmt.Sprintf("203.0.113.%d", 1+r(11)%254), "route", route, "fileMime", fileMime, "sizeAttachment", strconv.Itoa(fileSize))
	case "journal":
		set("subtype", "Journal", "direction", direction)
		delete(e, "messageId")
	}
	return e
}

// accountCode is the tenant's account code (SIEM accountId, get-account accountCode).
func (s *Server) accountCode() string {
	return fmt.Sprintf("CUSA%05X", detHash(s.opts.Seed, kindSIEMEvent, -2, 0, 0)%0xFFFFF)
}

// siemID mimics the shape of aggregateId/processingId: a base64 digest and epoch seconds.
func siemID(h uint64, sec int64) string {
	var b [24]byte
	for k := 0; k < 3; k++ {
		h = mix64(h + uint64(k))
		for j := 0; j < 8; j++ {
			b[k*8+j] = byte(h >> (8 * j))
		}
	}
	return base64.RawURLEncoding.EncodeToString(b[:]) + "_" + strconv.FormatInt(sec, 10)
}

// hexDigest is a deterministic stand-in for an n-byte hash, as lower-case hex.
func hexDigest(h uint64, n int) string {
	b := make([]byte, n)
	for k := range b {
		if k%8 == 0 {
			h = mix64(h + uint64(k))
		}
		b[k] = byte(h >> (8 * (k % 8)))
	}
	return hex.EncodeToString(b)
}

func domainOf(email string) string {
	for k := len(email) - 1; k >= 0; k-- {
		if email[k] == '@' {
			return email[k+1:]
		}
	}
	return email
}
