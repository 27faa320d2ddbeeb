package threats

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

// siemFileServer is a SIEM tenant of one event type whose listing names one batch file, served
// from the same host: the file is gzip-compressed NDJSON of the given lines.
func siemFileServer(t *testing.T, lines [][]byte) string {
	t.Helper()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for _, l := range lines {
		_, _ = zw.Write(l)
		_, _ = zw.Write([]byte("\n"))
	}
	require.NoError(t, zw.Close())
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/token":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"hostile-token-0123456789","token_type":"Bearer","expires_in":1799}`))
		case mimecast.PathSIEMBatch:
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Query().Get("nextPage") != "" {
				_, _ = w.Write([]byte(`{"value":[],"@nextPage":"p2","isCaughtUp":true}`))
				return
			}
			fmt.Fprintf(w, `{"value":[{"url":"%s/files/big.json.gz","expiry":"2099-01-01T00:00:00.000Z","size":%d}],"@nextPage":"p2","isCaughtUp":false}`, srv.URL, gz.Len())
		case "/files/big.json.gz":
			_, _ = w.Write(gz.Bytes())
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// bigSIEMLine is an av event of about size bytes.
func bigSIEMLine(i, size int) []byte {
	return fmt.Appendf(nil, `{"aggregateId":"a%d","processingId":"p%d","timestamp":%d,"type":"av","action":"Blocked","pad":"%s"}`,
		i, i, time.Now().Add(-time.Hour).UnixMilli()+int64(i), strings.Repeat("x", size))
}

// Large SIEM lines are held within max_bytes_in_flight: batches close at 4 MiB of records, and
// while no batch is acknowledged the input stops reading at the budget.
func TestThreatsSIEMHoldsLargeRecordsWithinMaxBytesInFlight(t *testing.T) {
	const lineSize, lines, budgetBytes = 300 << 10, 40, 1 << 20
	recs := make([][]byte, lines)
	for i := range recs {
		recs[i] = bigSIEMLine(i, lineSize)
	}
	url := siemFileServer(t, recs)
	yaml := streamtest.ConnYAML(url) + "poll_interval: 50ms\nlookback: 24h\n" + siemAV + "max_pages_in_flight: 64\n" +
		fmt.Sprintf("max_bytes_in_flight: %d\n", budgetBytes)
	conf, err := Spec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	cfg, err := threatsConfigFromParsed(conf, service.MockResources())
	require.NoError(t, err)
	in := newThreatsInput(cfg, service.MockResources())
	require.NoError(t, in.Connect(t.Context()))
	t.Cleanup(func() { _ = in.Close(context.Background()) })

	var held int64
	most := 0
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		batch, _, err := in.ReadBatch(ctx) // never acknowledged
		cancel()
		if err != nil {
			break // the input waits for acknowledgements
		}
		held += batchBytes(batch)
		most = max(most, len(batch))
	}
	const perBatch = (4<<20)/lineSize + 1
	require.Positive(t, held)
	assert.LessOrEqual(t, most, perBatch, "a batch closes at 4 MiB of records")
	assert.LessOrEqual(t, held, int64(max(budgetBytes, perBatch*(lineSize+200))), "unacknowledged bytes stay within the budget, or one batch larger than it")
	assert.Less(t, held, int64(lines*lineSize), "the input stopped before the end of the file")
}
