package threats

import "strings"

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

// siemStatus maps a SIEM event's action (Acc, Rej, Hld, ...) or delivered flag to a status.
func siemStatus(action, delivered string) string {
	switch strings.ToLower(action) {
	case "rej":
		return "rejected"
	case "hld":
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
	switch strings.ToLower(delivered) {
	case "true":
		return "delivered"
	case "false":
		return "bounced"
	}
	return strings.ToLower(action)
}
