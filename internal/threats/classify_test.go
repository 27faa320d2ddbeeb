package threats

import (
	"testing"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/stretchr/testify/assert"
)

func TestAttachmentStatusReadsWhatWasDoneBeforeTheVerdict(t *testing.T) {
	cases := []struct{ result, action, want string }{
		{"malicious", "none, none", "delivered"},
		{"malicious", "user release, none", "delivered"},
		{"malicious", "block, none", "blocked"},
		{"malicious", "none, hold", "held"},
		{"safe", "", "delivered"},
		{"malicious", "", "blocked"},
		{"malicious", "user release, quarantine", "blocked"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, attachmentStatus(tc.result, tc.action), "%s / %q", tc.result, tc.action)
	}
}

func TestSIEMStatusComesFromEveryFieldThatSaysWhatHappened(t *testing.T) {
	cases := []struct {
		name string
		ev   mimecast.SIEMEvent
		want string
	}{
		{"receipt rejected", mimecast.SIEMEvent{Action: "Rej"}, "rejected"},
		{"process held", mimecast.SIEMEvent{Action: "Hld", HoldReason: "Spm"}, "held"},
		{"subtype only", mimecast.SIEMEvent{Subtype: "Acc"}, "delivered"},
		{"delivery line", mimecast.SIEMEvent{Delivered: "true"}, "delivered"},
		{"delivery failed", mimecast.SIEMEvent{Delivered: "false"}, "bounced"},
		{"hold reason only", mimecast.SIEMEvent{HoldReason: "Spm"}, "held"},
		{"rejection type only", mimecast.SIEMEvent{RejectionType: "Invalid Recipient"}, "rejected"},
		{"block reason only", mimecast.SIEMEvent{BlockReason: "Blocked URL Category"}, "blocked"},
		{"block reason placeholder on an allowed click", mimecast.SIEMEvent{Type: "url protect", Action: "Allow", BlockReason: "n/a"}, "allowed"},
		{"impersonation tagged", mimecast.SIEMEvent{Type: "impersonation protect", Action: "Tag"}, "tagged"},
		{"impersonation let through", mimecast.SIEMEvent{Type: "impersonation protect", Action: "None"}, "delivered"},
		{"spam tagged malicious", mimecast.SIEMEvent{Type: "spam", Subtype: "Spam", TaggedMalicious: "true", TaggedExternal: "true"}, "tagged"},
		{"spam with no outcome", mimecast.SIEMEvent{Type: "spam", Subtype: "Bulk", TaggedMalicious: "false"}, "detected"},
		{"av verdict", mimecast.SIEMEvent{Type: "av", Subtype: "Virus", VirusFound: "Eicar-Test-Signature"}, "blocked"},
		{"attachment protect malicious", mimecast.SIEMEvent{Type: "attachment protect", Subtype: "Malicious"}, "blocked"},
		{"attachment protect safe", mimecast.SIEMEvent{Type: "attachment protect", Subtype: "Safe"}, "delivered"},
		{"internal email protect blocked", mimecast.SIEMEvent{Type: "internal email protect", ScanResults: "Blocked URL Category"}, "blocked"},
		{"internal email protect clean", mimecast.SIEMEvent{Type: "internal email protect", ScanResults: "Clean"}, "delivered"},
		{"mail flow line without outcome", mimecast.SIEMEvent{Type: "journal"}, ""},
		{"nothing said", mimecast.SIEMEvent{}, ""},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, siemStatus(tc.ev), tc.name)
	}
}

func TestSIEMThreatTypeReadsTheAttachmentVerdict(t *testing.T) {
	cases := []struct {
		ev   mimecast.SIEMEvent
		want string
	}{
		{mimecast.SIEMEvent{Type: "attachment protect", Subtype: "Malicious"}, "malware"},
		{mimecast.SIEMEvent{Type: "attachment protect", Subtype: "Safe"}, "attachment"},
		{mimecast.SIEMEvent{Type: "av", Subtype: "Virus"}, "malware"},
		{mimecast.SIEMEvent{Type: "spam"}, "spam"},
		{mimecast.SIEMEvent{Type: "receipt"}, ""},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, siemThreatType(tc.ev), "%s %s", tc.ev.Type, tc.ev.Subtype)
	}
}
