package mimecast

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Every numeric field of the alert feeds' records takes a number, a number sent as a string
// (with spaces, or with a fraction), and null; a string field takes a number.
func TestNumericFieldsTakeNumbersAndStringsOnEveryFeed(t *testing.T) {
	for _, raw := range []string{`7`, `"7"`, `" 7 "`, `"7.0"`, `7.0`} {
		t.Run(raw, func(t *testing.T) {
			imp := decodeRecord[ImpersonationLog]([]byte(`{"id":"x","hits":` + raw + `,"eventTime":"2024-01-01T00:00:00+0000"}`))
			assert.NoError(t, imp.Err)
			assert.Equal(t, 7, imp.Hits, "impersonation hits")

			held := decodeRecord[HeldMessage]([]byte(`{"id":"x","size":` + raw + `}`))
			assert.NoError(t, held.Err)
			assert.Equal(t, int64(7), held.Size, "held size")

			rel := decodeRecord[HeldReleaseLog]([]byte(`{"id":"x","size":` + raw + `,"spamScore":` + raw + `}`))
			assert.NoError(t, rel.Err)
			assert.Equal(t, int64(7), rel.Size, "release log size")
			assert.Equal(t, 7, rel.SpamScore, "release log spamScore")

			siem := decodeRecord[SIEMEvent]([]byte(`{"type":"av","timestamp":1,"_partition":` + raw + `}`))
			assert.NoError(t, siem.Err)
			assert.Equal(t, 7, siem.Partition, "siem _partition")
		})
	}
	t.Run("null and a number where a string goes", func(t *testing.T) {
		held := decodeRecord[HeldMessage]([]byte(`{"id":"x","size":null,"subject":42}`))
		assert.NoError(t, held.Err)
		assert.Zero(t, held.Size)
		assert.Equal(t, "42", held.Subject)
	})
}
