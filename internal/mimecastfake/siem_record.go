package mimecastfake

import (
	"encoding/base64"
	"encoding/hex"
	"strconv"
)

// siemKey names a member of a SIEM event. The constants are in byte order of the names (as
// encoding/json sorts map keys, which is how these records used to be written), so writing
// the members in constant order writes them in key order; a test checks siemKeyNames is sorted.
type siemKey uint8

const (
	skHostname siemKey = iota
	skOffset
	skPartition
	skAccountID
	skAction
	skAggregateID
	skAnalysis
	skAttachments
	skBlockReason
	skCustomNameMatch
	skCustomThreatDictionary
	skCustomerIP
	skDelivered
	skDeliveryAttempts
	skDeliveryErrors
	skDeliveryTime
	skDestinationIP
	skDirection
	skEmailSize
	skEventType
	skFileExtension
	skFileMime
	skFileName
	skHoldReason
	skInternalUserName
	skItemsDetected
	skMd5
	skMessageID
	skMimecastThreatDictionary
	skMonitoredDomainSource
	skNewDomain
	skNumberAttachments
	skPolicyDefinition
	skProcessingID
	skReceiptErrors
	skRecipients
	skRejectionCode
	skRejectionInfo
	skRejectionType
	skReplyMismatch
	skRoute
	skScanResults
	skSenderDomain
	skSenderDomainInternal
	skSenderEnvelope
	skSenderHeader
	skSenderIP
	skSha1
	skSha256
	skSimilarCustomExternalDomain
	skSimilarDomain
	skSimilarInternalDomain
	skSimilarMimecastExternalDomain
	skSizeAttachment
	skSourceIP
	skSpamDetectionLevel
	skSpamInfo
	skSpamProcessingDetail
	skSpamScore
	skSubTypeStream // the stream endpoint's name for subtype
	skSubject
	skSubtype
	skTaggedExternal
	skTaggedMalicious
	skTimestamp
	skTLSCipher
	skTLSUsed
	skTLSVersion
	skTotalSizeAttachments
	skType
	skURL
	skURLCategory
	skVirusFound
	numSIEMKeys
)

// siemKeyNames are the JSON names of the siemKey constants, in the same (byte) order.
var siemKeyNames = [numSIEMKeys]string{
	"Hostname",
	"_offset",
	"_partition",
	"accountId",
	"action",
	"aggregateId",
	"analysis",
	"attachments",
	"blockReason",
	"customNameMatch",
	"customThreatDictionary",
	"customerIp",
	"delivered",
	"deliveryAttempts",
	"deliveryErrors",
	"deliveryTime",
	"destinationIp",
	"direction",
	"emailSize",
	"eventType",
	"fileExtension",
	"fileMime",
	"fileName",
	"holdReason",
	"internalUserName",
	"itemsDetected",
	"md5",
	"messageId",
	"mimecastThreatDictionary",
	"monitoredDomainSource",
	"newDomain",
	"numberAttachments",
	"policyDefinition",
	"processingId",
	"receiptErrors",
	"recipients",
	"rejectionCode",
	"rejectionInfo",
	"rejectionType",
	"replyMismatch",
	"route",
	"scanResults",
	"senderDomain",
	"senderDomainInternal",
	"senderEnvelope",
	"senderHeader",
	"senderIp",
	"sha1",
	"sha256",
	"similarCustomExternalDomain",
	"similarDomain",
	"similarInternalDomain",
	"similarMimecastExternalDomain",
	"sizeAttachment",
	"sourceIp",
	"spamDetectionLevel",
	"spamInfo",
	"spamProcessingDetail",
	"spamScore",
	"subType",
	"subject",
	"subtype",
	"taggedExternal",
	"taggedMalicious",
	"timestamp",
	"tlsCipher",
	"tlsUsed",
	"tlsVersion",
	"totalSizeAttachments",
	"type",
	"url",
	"urlCategory",
	"virusFound",
}

// siemEvent is one SIEM record under construction: each member's value is encoded as JSON
// into arena when it is set, and the members are written in key order at the end. Setting a
// member again replaces its value (the old bytes stay unused in arena), as a map assignment
// did. One siemEvent is reused for every event of a file or page, so values cost no
// allocations.
type siemEvent struct {
	arena   []byte
	span    [numSIEMKeys]struct{ start, end int32 } // end == 0: member absent
	open    siemKey
	openAt  int
	scratch []byte
}

func (e *siemEvent) reset() {
	e.arena = e.arena[:0]
	e.span = [numSIEMKeys]struct{ start, end int32 }{}
}

func (e *siemEvent) record(k siemKey, start int) {
	e.span[k].start, e.span[k].end = int32(start), int32(len(e.arena))
}

func (e *siemEvent) str(k siemKey, v string) {
	start := len(e.arena)
	e.arena = appendJSONString(e.arena, v)
	e.record(k, start)
}

func (e *siemEvent) num(k siemKey, v int64) {
	start := len(e.arena)
	e.arena = strconv.AppendInt(e.arena, v, 10)
	e.record(k, start)
}

func (e *siemEvent) null(k siemKey) {
	start := len(e.arena)
	e.arena = append(e.arena, "null"...)
	e.record(k, start)
}

func (e *siemEvent) del(k siemKey) { e.span[k].end = 0 }

// strInt sets k to v as a decimal string: SIEM events carry numbers as strings.
func (e *siemEvent) strInt(k siemKey, v int64) {
	e.begin(k)
	e.arena = strconv.AppendInt(e.arena, v, 10)
	e.end()
}

// strNum sets k to pre + v + post.
func (e *siemEvent) strNum(k siemKey, pre string, v uint64, post string) {
	e.begin(k)
	e.arena = appendJSONStringBody(e.arena, pre)
	e.arena = strconv.AppendUint(e.arena, v, 10)
	e.arena = appendJSONStringBody(e.arena, post)
	e.end()
}

// begin starts a string value of k that the caller appends to arena in parts (escaped with
// appendJSONStringBody where it could need it); end closes it.
func (e *siemEvent) begin(k siemKey) {
	e.open, e.openAt = k, len(e.arena)
	e.arena = append(e.arena, '"')
}

func (e *siemEvent) end() {
	e.arena = append(e.arena, '"')
	e.record(e.open, e.openAt)
}

// move renames member from to to, as the stream endpoint does; an absent member becomes null,
// as reading a missing map key gave nil.
func (e *siemEvent) move(from, to siemKey) {
	if e.span[from].end == 0 {
		e.null(to)
		return
	}
	e.span[to] = e.span[from]
	e.del(from)
}

// appendTo writes the event as a JSON object with its members in key order.
func (e *siemEvent) appendTo(b []byte) []byte {
	b = append(b, '{')
	first := true
	for k := range numSIEMKeys {
		sp := e.span[k]
		if sp.end == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, siemKeyNames[k]...)
		b = append(b, '"', ':')
		b = append(b, e.arena[sp.start:sp.end]...)
	}
	return append(b, '}')
}

// appendSIEMID appends the shape of aggregateId/processingId: a base64 digest and epoch
// seconds.
func appendSIEMID(b []byte, h uint64, sec int64) []byte {
	var d [24]byte
	for k := 0; k < 3; k++ {
		h = mix64(h + uint64(k))
		for j := 0; j < 8; j++ {
			d[k*8+j] = byte(h >> (8 * j))
		}
	}
	b = base64.RawURLEncoding.AppendEncode(b, d[:])
	b = append(b, '_')
	return strconv.AppendInt(b, sec, 10)
}

// appendHexDigest appends a deterministic stand-in for an n-byte hash (n <= 32), as
// lower-case hex.
func appendHexDigest(b []byte, h uint64, n int) []byte {
	var d [32]byte
	for k := range n {
		if k%8 == 0 {
			h = mix64(h + uint64(k))
		}
		d[k] = byte(h >> (8 * (k % 8)))
	}
	return hex.AppendEncode(b, d[:n])
}
