package threats

import (
	"strings"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// The functions below map each feed's own vocabulary onto the threat_type / status / source
// selections (the table in the threat_types field doc). Inputs are Mimecast's values as sent;
// outputs are lower-case.

func urlClickStatus(action string) string {
	switch strings.ToLower(action) {
	case "block":
		return "blocked"
	case "warn":
		return "warned"
	case "allow":
		return "allowed"
	}
	return strings.ToLower(action)
}

func attachmentThreatType(result string) string {
	if strings.EqualFold(result, "malicious") {
		return "malware"
	}
	return "attachment"
}

// attachmentStatus reads what was done from actionTriggered (a list such as "none, none" or
// "user release, none"), and only without it from the verdict: a malicious verdict with no
// action taken was delivered. A block, hold or quarantine wins over a release.
func attachmentStatus(result, actionTriggered string) string {
	if strings.TrimSpace(actionTriggered) == "" {
		if strings.EqualFold(result, "malicious") {
			return "blocked"
		}
		return "delivered"
	}
	status := "delivered"
	for _, a := range strings.Split(strings.ToLower(actionTriggered), ",") {
		switch a = strings.TrimSpace(a); {
		case strings.Contains(a, "block"), strings.Contains(a, "reject"), strings.Contains(a, "quarantine"):
			return "blocked"
		case strings.Contains(a, "hold"):
			status = "held"
		}
	}
	return status
}

func impersonationStatus(action string) string {
	switch a := strings.ToLower(action); a {
	case "", "none":
		return "delivered"
	case "hold":
		return "held"
	case "bounce":
		return "bounced"
	case "tag":
		return "tagged"
	default:
		return a
	}
}

func heldThreatType(reasonCode, reason string) string {
	if strings.Contains(strings.ToLower(reasonCode+" "+reason), "spam") {
		return "spam"
	}
	return "policy"
}

// siemThreatType maps a SIEM line to a detection category from its type and, for attachment
// protect, its verdict (the subtype: Malicious or Safe); mail-flow types have none.
func siemThreatType(ev mimecast.SIEMEvent) string {
	switch ev.Type {
	case "av":
		return "malware"
	case "attachment protect":
		return attachmentThreatType(ev.Subtype)
	case "url protect":
		return "url"
	case "impersonation protect":
		return "impersonation"
	case "spam":
		return "spam"
	case "internal email protect":
		return "internal"
	}
	return ""
}

// said is a field's value unless it is one of the placeholders Mimecast writes for "nothing"
// ("n/a", "none", "-").
func said(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	switch v {
	case "n/a", "na", "none", "-", "null":
		return ""
	}
	return v
}

// siemStatus derives a SIEM line's status from every field that says what happened, first that
// wins: its action (Acc, Rej, Hld, Block, Allow, Tag, None, ...; subtype repeats it on some
// types), a delivery line's delivered flag, a hold reason, a rejection type or a block reason,
// the tag a message was delivered with (taggedMalicious), and the verdict of a detection line
// (an av line's virusFound, an attachment protect line's subtype, an internal email protect
// line's scanResults). A detection line that says nothing of what was done is "detected".
func siemStatus(ev mimecast.SIEMEvent) string {
	for _, a := range []string{ev.Action, ev.Subtype} {
		switch strings.ToLower(strings.TrimSpace(a)) {
		case "rej":
			return "rejected"
		case "hld", "hold":
			return "held"
		case "acc", "none":
			return "delivered"
		case "block", "blk":
			return "blocked"
		case "bnc", "bounce":
			return "bounced"
		case "sdbx":
			return "sandboxed"
		case "allow":
			return "allowed"
		case "warn":
			return "warned"
		case "tag":
			return "tagged"
		}
	}
	switch said(ev.Delivered) {
	case "true":
		return "delivered"
	case "false":
		return "bounced"
	}
	switch {
	case said(ev.HoldReason) != "":
		return "held"
	case said(ev.RejectionType) != "":
		return "rejected"
	case said(ev.BlockReason) != "":
		return "blocked"
	case said(ev.TaggedMalicious) == "true":
		return "tagged"
	}
	switch ev.Type {
	case "av":
		if said(ev.VirusFound) != "" {
			return "blocked"
		}
	case "attachment protect":
		switch said(ev.Subtype) {
		case "malicious":
			return "blocked"
		case "safe", "clean":
			return "delivered"
		}
	case "internal email protect":
		switch r := said(ev.ScanResults); {
		case r == "clean":
			return "delivered"
		case strings.Contains(r, "block"), strings.Contains(r, "malicious"):
			return "blocked"
		}
	}
	if siemThreatType(ev) != "" {
		return "detected"
	}
	return said(ev.Action)
}
