package mimecast

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// errTransferCut is the read error of a download cut short by the network.
var errTransferCut = errors.New("connection reset by peer")

// cutReader serves data up to cut and then fails as a reset connection would; hit records
// that the failure was read.
type cutReader struct {
	data []byte
	cut  int
	off  int
	hit  bool
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.off >= c.cut {
		c.hit = true
		return 0, errTransferCut
	}
	n := copy(p, c.data[c.off:c.cut])
	c.off += n
	return n, nil
}

// FuzzSIEMFileTransportCut cuts the download of a batch file, plain or gzip-compressed, at
// any byte. Properties: the reader ends; once the cut was read the file never looks complete
// (no io.EOF) and the error it ends with is the transfer's, not a corrupt-file record, so the
// file is downloaded again rather than reported as damaged; and the records before the cut
// are those of the whole file, in order.
func FuzzSIEMFileTransportCut(f *testing.F) {
	f.Add([]byte(threeSIEMLines), uint32(40), true)
	f.Add([]byte(threeSIEMLines), uint32(3), false)
	f.Add([]byte("{\"a\":1}\n{\"b\":"), uint32(9), true)
	f.Fuzz(func(t *testing.T, data []byte, cutSeed uint32, compress bool) {
		if compress {
			data = gzipped(t, string(data))
		}
		if len(data) == 0 {
			return
		}
		cut := int(cutSeed) % len(data)
		const limit = 1 << 12
		whole := readFuzzRecords(t, data, limit)
		src := &cutReader{data: data, cut: cut}
		r := NewSIEMFileReader(io.NopCloser(src), limit)
		defer r.Close()
		var got [][]byte
		var end error
		for range 1032 * (len(data) + 2) {
			ev, err := r.Next()
			if err != nil {
				end = err
				break
			}
			if src.hit && errors.Is(ev.Err, ErrBatchFileCorrupt) {
				t.Fatalf("a cut transfer was reported as a corrupt file: %v", ev.Err)
			}
			got = append(got, ev.Raw)
		}
		if end == nil {
			t.Fatal("the reader did not end")
		}
		if src.hit {
			if errors.Is(end, io.EOF) {
				t.Fatalf("a cut transfer looked complete after %d records", len(got))
			}
			if !errors.Is(end, errTransferCut) {
				t.Fatalf("a cut transfer ended with %v, not the transfer's error", end)
			}
		}
		for i, raw := range got {
			if i >= len(whole) || (!bytes.Equal(raw, whole[i]) && !bytes.HasPrefix(whole[i], raw)) {
				t.Fatalf("record %d before the cut is %q, not a record of the whole file", i, raw)
			}
		}
	})
}
