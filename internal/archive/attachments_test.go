package archive

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/email"
	"github.com/mimecast-connect/mimecast-connect/internal/email/emailtest"
)

// allocatedDuring reports the bytes allocated while fn ran.
func allocatedDuring(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestArchiveLargeAttachmentIsDecodedIntoOneBufferOrNotKeptAtAll(t *testing.T) {
	const size = 5 << 20
	raw := emailtest.BigAttachmentMessage(size)
	for _, tc := range []struct {
		name     string
		maxSize  int64
		wantKept bool
		maxAlloc uint64
	}{
		{"kept: one buffer, never copied", 0, true, size + size/2},
		{"over max_attachment_size: streamed past", 1 << 20, false, 2 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &archiveInput{cfg: &archiveConfig{extract: true, maxAttSize: tc.maxSize, blankAttName: "attachment", maxBodySize: 1 << 20}, log: service.MockResources().Logger(), metrics: newArchiveMetrics(service.MockResources().Metrics())}
			var col *attachmentCollector
			alloc := allocatedDuring(func() {
				counted := &countingReader{r: bytes.NewReader(raw)}
				col = &attachmentCollector{in: in, raw: counted, total: int64(len(raw))}
				_, err := email.Parse(counted, 1<<20, col.add)
				require.NoError(t, err)
			})
			require.Len(t, col.entries, 1)
			assert.Equal(t, int64(size), col.entries[0].Size)
			if tc.wantKept {
				require.Len(t, col.extracted, 1)
				assert.Len(t, col.extracted[0].data, size)
			} else {
				assert.Empty(t, col.extracted)
				assert.Equal(t, skipTooLarge, col.entries[0].Skipped)
			}
			assert.Less(t, alloc, tc.maxAlloc, "allocated %d bytes for a %d-byte attachment", alloc, size)
		})
	}
}
