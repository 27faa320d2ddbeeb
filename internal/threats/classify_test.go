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
		{"nothing said", mimecast.SIEMEvent{}, ""},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, siemStatus(tc.ev), tc.name)
	}
}
