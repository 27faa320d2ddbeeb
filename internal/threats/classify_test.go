package threats

import (
	"testing"

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
