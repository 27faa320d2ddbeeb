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

// siemThreatType maps a SIEM event type to a detection category; mail-flow types have none.
func siemThreatType(eventType string) string {
	switch strings.ToLower(eventType) {
	case "av", "attachment protect":
		return "malware"
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

// siemStatus derives a SIEM line's status from every field that says what happened: its action
// (Acc, Rej, Hld, ...; subtype repeats it on some types), a delivery line's delivered flag, and,
// on lines without either, a hold reason, a rejection type or a block reason.
func siemStatus(ev mimecast.SIEMEvent) string {
	for _, a := range []string{ev.Action, ev.Subtype} {
		switch strings.ToLower(strings.TrimSpace(a)) {
		case "rej":
			return "rejected"
		case "hld", "hold":
			return "held"
		case "acc":
			return "delivered"
		case "block", "blk":
			return "blocked"
		case "bnc", "bounce":
			return "bounced"
		case "sdbx":
			return "sandboxed"
		}
	}
	switch strings.ToLower(strings.TrimSpace(ev.Delivered)) {
	case "true":
		return "delivered"
	case "false":
		return "bounced"
	}
	switch {
	case strings.TrimSpace(ev.BlockReason) != "":
		return "blocked"
	case strings.TrimSpace(ev.RejectionType) != "":
		return "rejected"
	case strings.TrimSpace(ev.HoldReason) != "":
		return "held"
	}
	return strings.ToLower(strings.TrimSpace(ev.Action))
}
