package mimecastfake

import (
	"fmt"
	"sort"
	"strconv"
	"time"
)

// siemTypes are the CG event types of the SIEM endpoints (as Gravwell, Sekoia and Elastic list them), in the order the
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
	// siemDefaultBatchWindow is how often live batch files appear (integrators: "every 15
	// minutes"); Sizes.SIEMBatchWindow shortens it for runs that must see new files.
	siemDefaultBatchWindow = 15 * time.Minute
	// siemRetention is how far back batch files are listed (about 7 days, as integrators observe).
	siemRetention = 7 * 24 * time.Hour
	// siemStreamRetention is the window of the stream endpoint (24 hours: older starts are refused with 400, as XSOAR's collector notes).
	siemStreamRetention = 24 * time.Hour

	siemDefaultEventsPerFile = 500
	hourMs                   = int64(time.Hour / time.Millisecond)
)

// siemFeed is the event stream of every SIEM type: per type, Sizes.EventsPerFeed backlog events
// spread over [Anchor-Span, Anchor], then Sizes.LiveEventsPerHour live events per hour, event j
// becoming available at the end of its slot Anchor + [j, j+1) h/rate. Event times never decrease
// with the index, so time bounds become index bounds by binary search; nothing is stored.
//
// Batch files are index ranges: the backlog in chunks of perFile events, and each batch window
// (Sizes.SIEMBatchWindow, 15 minutes by default) after Anchor in chunks of perFile, listed once
// the window has closed.
type siemFeed struct {
	seed     int64
	anchorMs int64
	spanMs   int64
	backlog  int
	rate     int64
	perFile  int
	windowMs int64
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
		// At least 1 ms: window arithmetic divides by it.
		windowMs: max(s.opts.Sizes.SIEMBatchWindow.Milliseconds(), 1),
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
	w := ceilDivInt64((j+1)*hourMs, f.windowMs*f.rate) - 1
	if nowMs < f.anchorMs+(w+1)*f.windowMs {
		return siemFile{}, false
	}
	j0 := w * f.windowMs * f.rate / hourMs
	j1 := (w + 1) * f.windowMs * f.rate / hourMs
	end := min(j1, j0+((j-j0)/int64(f.perFile)+1)*int64(f.perFile))
	return siemFile{ti: ti, start: c, end: f.backlog + int(end)}, true
}

func ceilDivInt64(a, b int64) int64 { return (a + b - 1) / b }

// fillSIEMEvent builds the batch-file record of event i of type ti into e (fields as in Elastic's SIEM samples): type
// and subtype naming, epoch-ms timestamp, numbers and booleans as strings, and the Message-ID
// of an archived message, so enrichment and archive lookups find it. Records of the same index
// of different types describe the same message (receipt → process → delivery ...).
func (s *Server) fillSIEMEvent(e *siemEvent, f siemFeed, ti, i int) {
	e.reset()
	ts := f.eventTime(ti, i)
	typ := siemTypes[ti]
	r := func(salt int) uint64 { return detHash(f.seed, kindSIEMEvent, ti, i, salt) }
	pick := func(salt int, opts ...string) string { return opts[r(salt)%uint64(len(opts))] }

	t := s.tenant
	mbox := int(detHash(f.seed, kindSIEMEvent, -1, i, 0) % uint64(max(1, t.mailboxCount())))
	at := time.UnixMilli(ts).UTC()
	n := t.messageBefore(mbox, at)
	msg := t.alertMail(mbox, n)

	direction, route := "Inbound", "inbound"
	if msg.sent {
		direction, route = "Outbound", "outbound"
	}
	senderIP := func(k siemKey) { e.strNum(k, "198.51.100.", 1+detHash(f.seed, kindSIEMEvent, mbox, n, 3)%254, "") }
	attSize := 0
	for _, a := range msg.atts {
		attSize += a.size
	}
	emailSize := int64(4096 + attSize*4/3)
	senderDomain := domainOf(msg.from.Email)

	e.num(skOffset, int64(i))
	e.num(skPartition, int64(ti))
	e.str(skAccountID, s.accountID)
	e.begin(skAggregateID)
	e.arena = appendSIEMID(e.arena, detHash(f.seed, kindSIEMEvent, mbox, n, 1), msg.received.Unix())
	e.end()
	e.begin(skProcessingID)
	e.arena = appendSIEMID(e.arena, r(1), ts/1000)
	e.end()
	e.num(skTimestamp, ts)
	e.str(skType, typ)
	e.str(skMessageID, msg.msgID)
	e.str(skSubject, msg.subject)
	e.str(skSenderEnvelope, msg.from.Email)
	e.begin(skRecipients)
	for k, a := range msg.to {
		if k > 0 {
			e.arena = append(e.arena, ',')
		}
		e.arena = appendJSONStringBody(e.arena, a.Email)
	}
	e.end()
	hashes := func() {
		if len(msg.atts) > 0 {
			a := msg.atts[r(9)%uint64(len(msg.atts))]
			e.str(skFileName, a.filename)
			e.str(skFileExtension, a.ext)
		} else {
			e.strNum(skFileName, "payload-", uint64(i), ".zip")
			e.str(skFileExtension, "zip")
		}
		for _, d := range [...]struct {
			k    siemKey
			salt int
			n    int
		}{{skMd5, 20, 16}, {skSha1, 21, 20}, {skSha256, 22, 32}} {
			e.begin(d.k)
			e.arena = appendHexDigest(e.arena, r(d.salt), d.n)
			e.end()
		}
	}

	switch typ {
	case "receipt":
		action := pick(10, "Acc", "Acc", "Acc", "Acc", "Acc", "Acc", "Acc", "Acc", "Rej", "Acc")
		e.str(skSubtype, action)
		e.str(skAction, action)
		e.str(skDirection, direction)
		e.str(skSenderHeader, msg.from.Email)
		senderIP(skSenderIP)
		e.strInt(skSpamScore, int64(r(11)%10))
		e.str(skSpamDetectionLevel, pick(12, "relaxed", "moderate", "aggressive"))
		e.str(skSpamInfo, "[]")
		e.str(skSpamProcessingDetail, `{"spf":{"allow":true,"info":"ALLOW"},"dkim":{"allow":true,"info":"ALLOW"},"dmarc":{"allow":true,"info":"ALLOW"}}`)
		e.str(skTLSVersion, "TLSv1.3")
		e.str(skTLSCipher, "TLS_AES_256_GCM_SHA384")
		e.strInt(skNumberAttachments, int64(len(msg.atts)))
		e.null(skReceiptErrors)
		e.null(skVirusFound)
		if action == "Rej" {
			// Rejected at the envelope: no message was accepted, so there is no Message-ID.
			e.null(skMessageID)
			e.str(skRejectionType, "Manual Envelope Rejection")
			e.str(skRejectionCode, "550")
			e.str(skRejectionInfo, "Envelope blocked - User Entry")
		}
	case "process":
		action := pick(10, "Acc", "Acc", "Acc", "Hld", "Sdbx")
		e.str(skSubtype, action)
		e.str(skAction, action)
		e.strInt(skNumberAttachments, int64(len(msg.atts)))
		e.strInt(skTotalSizeAttachments, int64(attSize))
		e.strInt(skEmailSize, emailSize)
		e.null(skHoldReason)
		if action == "Hld" {
			e.str(skHoldReason, "Spm")
		}
		e.null(skAttachments)
		if len(msg.atts) > 0 {
			e.scratch = e.scratch[:0]
			for k, a := range msg.atts {
				if k > 0 {
					e.scratch = append(e.scratch, ',')
				}
				e.scratch = strconv.AppendQuote(e.scratch, a.filename)
			}
			e.begin(skAttachments)
			e.arena = appendJSONStringBody(e.arena, string(e.scratch))
			e.end()
		}
	case "delivery":
		delivered := pick(10, "true", "true", "true", "true", "true", "true", "true", "true", "true", "false")
		if delivered == "true" {
			e.str(skSubtype, "Delivery")
		} else {
			e.str(skSubtype, "Failed")
		}
		e.str(skDelivered, delivered)
		e.strInt(skDeliveryAttempts, 1+int64(r(11)%2))
		e.strInt(skDeliveryTime, 80+int64(r(12)%900))
		e.begin(skDestinationIP)
		e.arena = append(e.arena, "10.0."...)
		e.arena = strconv.AppendUint(e.arena, r(13)%8, 10)
		e.arena = append(e.arena, '.')
		e.arena = strconv.AppendUint(e.arena, 1+r(14)%250, 10)
		e.end()
		e.str(skDirection, direction)
		e.str(skRoute, "Default Delivery Route")
		e.str(skTLSUsed, "Yes")
		e.str(skTLSVersion, "TLSv1.2")
		e.str(skTLSCipher, "ECDHE-RSA-AES256-GCM-SHA384")
		e.strInt(skEmailSize, emailSize)
		e.strInt(skNumberAttachments, int64(len(msg.atts)))
		e.strInt(skTotalSizeAttachments, int64(attSize))
		e.begin(skHostname)
		e.arena = append(e.arena, "mail."...)
		e.arena = appendJSONStringBody(e.arena, t.mailbox(mbox).Domain)
		e.end()
		e.null(skDeliveryErrors)
		if delivered == "false" {
			e.str(skDeliveryErrors, "451 4.4.0 Temporary server error")
			e.str(skRejectionType, "Delivery Failure")
			e.str(skRejectionCode, "451")
			e.str(skRejectionInfo, "Remote server unavailable")
		}
	case "av":
		hashes()
		e.str(skSubtype, "Virus")
		senderIP(skSenderIP)
		e.str(skSenderDomain, senderDomain)
		e.str(skSenderDomainInternal, strconv.FormatBool(msg.sent))
		e.str(skRoute, route)
		e.str(skVirusFound, pick(10, "Eicar-Test-Signature", "Win.Trojan.Agent", "Doc.Dropper.Emotet"))
		e.strInt(skEmailSize, emailSize)
	case "spam":
		e.str(skSubtype, pick(10, "Spam", "Bulk"))
		e.str(skSenderHeader, msg.from.Email)
		senderIP(skSenderIP)
		e.str(skSenderDomain, senderDomain)
		e.str(skRoute, route)
		e.str(skTaggedExternal, "true")
		e.str(skTaggedMalicious, pick(11, "false", "true"))
	case "internal email protect":
		e.str(skSubtype, "Internal")
		e.str(skRoute, "internal")
		e.str(skScanResults, pick(10, "Blocked URL Category", "Malicious URL", "Clean"))
		e.str(skURLCategory, pick(11, "Phishing & Fraud", "Malware", "Compromised"))
		e.str(skMonitoredDomainSource, "internal")
		e.str(skSimilarDomain, "n/a")
	case "impersonation protect":
		e.str(skSubtype, "Hit")
		senderIP(skSenderIP)
		e.str(skRoute, route)
		e.str(skAction, pick(10, "Hold", "Tag", "None"))
		e.str(skPolicyDefinition, "Default Impersonation Definition")
		e.str(skTaggedMalicious, pick(11, "true", "false"))
		e.str(skTaggedExternal, "true")
		e.strInt(skItemsDetected, 1+int64(r(12)%3))
		e.str(skNewDomain, pick(13, "true", "false"))
		e.str(skInternalUserName, pick(14, "true", "false"))
		e.str(skReplyMismatch, pick(15, "false", "true"))
		e.str(skSimilarInternalDomain, pick(16, "false", "true"))
		e.str(skSimilarCustomExternalDomain, "false")
		e.str(skSimilarMimecastExternalDomain, "false")
		e.str(skCustomNameMatch, "false")
		e.str(skCustomThreatDictionary, "false")
		e.str(skMimecastThreatDictionary, pick(17, "false", "true"))
	case "url protect":
		action := pick(10, "Block", "Allow", "Allow")
		e.str(skSubtype, action)
		e.str(skAction, action)
		e.str(skSenderDomain, senderDomain)
		senderIP(skSourceIP)
		e.str(skRoute, route)
		e.begin(skURL)
		e.arena = append(e.arena, "https://portal.example.net/doc/"...)
		e.arena = strconv.AppendInt(e.arena, int64(mbox), 10)
		e.arena = append(e.arena, '/')
		e.arena = strconv.AppendInt(e.arena, int64(n), 10)
		e.end()
		e.str(skURLCategory, pick(11, "Phishing & Fraud", "Business", "Unknown"))
		if action == "Block" {
			e.str(skBlockReason, "Malicious")
		} else {
			e.str(skBlockReason, "n/a")
		}
		e.str(skAnalysis, pick(12, "Malicious", "Clean", "Suspicious"))
	case "attachment protect":
		hashes()
		fileMime, fileSize := "application/zip", 2048
		if len(msg.atts) > 0 {
			a := msg.atts[r(9)%uint64(len(msg.atts))]
			fileMime, fileSize = a.contentType, a.size
		}
		e.str(skSubtype, pick(10, "Safe", "Safe", "Malicious"))
		senderIP(skSenderIP)
		e.str(skSenderDomain, senderDomain)
		e.strNum(skCustomerIP, "203.0.113.", 1+r(11)%254, "")
		e.str(skRoute, route)
		e.str(skFileMime, fileMime)
		e.strInt(skSizeAttachment, int64(fileSize))
	case "journal":
		e.str(skSubtype, "Journal")
		e.str(skDirection, direction)
		e.del(skMessageID)
	}
}

// accountCode is the tenant's account code (SIEM accountId, get-account accountCode).
func (s *Server) accountCode() string { return s.accountID }

func accountCode(seed int64) string {
	return fmt.Sprintf("CUSA%05X", detHash(seed, kindSIEMEvent, -2, 0, 0)%0xFFFFF)
}

func domainOf(email string) string {
	for k := len(email) - 1; k >= 0; k-- {
		if email[k] == '@' {
			return email[k+1:]
		}
	}
	return email
}
