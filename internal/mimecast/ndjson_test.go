package mimecast

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAllLines drains r, returning the lines and the per-line errors in order.
func readAllLines(t *testing.T, r *NDJSONReader) (lines []string, tooLong []int64, err error) {
	t.Helper()
	for {
		line, err := r.Next()
		var tl *LineTooLongError
		switch {
		case err == nil:
			lines = append(lines, string(line))
		case errors.As(err, &tl):
			tooLong = append(tooLong, tl.Line)
		case errors.Is(err, io.EOF):
			return lines, tooLong, nil
		default:
			return lines, tooLong, err
		}
	}
}

func TestNDJSONReaderSplitsLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"trailing newline", "{\"a\":1}\n{\"b\":2}\n", []string{`{"a":1}`, `{"b":2}`}},
		{"no trailing newline", "{\"a\":1}\n{\"b\":2}", []string{`{"a":1}`, `{"b":2}`}},
		{"crlf", "{\"a\":1}\r\n{\"b\":2}\r\n", []string{`{"a":1}`, `{"b":2}`}},
		{"blank lines skipped", "\n{\"a\":1}\n\n  \n{\"b\":2}\n\n", []string{`{"a":1}`, `{"b":2}`}},
		{"byte order mark", "\xef\xbb\xbf{\"a\":1}\n", []string{`{"a":1}`}},
		{"empty", "", nil},
		{"only newlines", "\n\n\n", nil},
		{"not JSON is still a line", "garbage\n{\"a\":1}\n", []string{"garbage", `{"a":1}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, tooLong, err := readAllLines(t, NewNDJSONReader(strings.NewReader(tt.in), 0))
			require.NoError(t, err)
			assert.Empty(t, tooLong)
			assert.Equal(t, tt.want, lines)
		})
	}
}

func TestNDJSONReaderSkipsOverlongLineAndContinues(t *testing.T) {
	huge := `{"x":"` + strings.Repeat("y", 200_000) + `"}`
	in := "{\"a\":1}\n" + huge + "\n{\"b\":2}\n" + huge // last one without newline
	r := NewNDJSONReader(iotest.HalfReader(strings.NewReader(in)), 1000)

	line, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, `{"a":1}`, string(line))

	_, err = r.Next()
	var tl *LineTooLongError
	require.ErrorAs(t, err, &tl)
	assert.Equal(t, int64(2), tl.Line)
	assert.Equal(t, 1000, tl.Limit)
	assert.Len(t, tl.Prefix, 1000, "the prefix is capped by the limit")
	assert.True(t, strings.HasPrefix(huge, string(tl.Prefix)))

	line, err = r.Next()
	require.NoError(t, err)
	assert.Equal(t, `{"b":2}`, string(line))
	assert.Equal(t, int64(3), r.Line())

	_, err = r.Next()
	require.ErrorAs(t, err, &tl)
	assert.Equal(t, int64(4), tl.Line)

	_, err = r.Next()
	assert.ErrorIs(t, err, io.EOF)
	_, err = r.Next()
	assert.ErrorIs(t, err, io.EOF, "EOF is sticky")
}

func TestNDJSONReaderLimitIsOnContentNotLineEnding(t *testing.T) {
	exact := strings.Repeat("a", 10)
	lines, tooLong, err := readAllLines(t, NewNDJSONReader(strings.NewReader(exact+"\r\n"+exact+"b\n"+exact), 10))
	require.NoError(t, err)
	assert.Equal(t, []string{exact, exact}, lines)
	assert.Equal(t, []int64{2}, tooLong)
}

func TestNDJSONReaderReturnsPartialLineWithReadError(t *testing.T) {
	boom := errors.New("connection reset")
	src := io.MultiReader(strings.NewReader("{\"a\":1}\n{\"b\":"), iotest.ErrReader(boom))
	r := NewNDJSONReader(src, 0)
	line, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, `{"a":1}`, string(line))

	line, err = r.Next()
	require.ErrorIs(t, err, boom)
	assert.Equal(t, `{"b":`, string(line))

	_, err = r.Next()
	assert.ErrorIs(t, err, boom, "read errors are sticky")
}

func TestNDJSONReaderReturnsLinesTheCallerOwns(t *testing.T) {
	r := NewNDJSONReader(strings.NewReader("{\"a\":1}\n{\"b\":2}\n"), 0)
	first, err := r.Next()
	require.NoError(t, err)
	_, err = r.Next()
	require.NoError(t, err)
	assert.Equal(t, `{"a":1}`, string(first), "a later Next must not overwrite an earlier line")
}

// gzipped compresses s.
func gzipped(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// drainSIEMFile reads r to the end: the events (bad ones included) and the terminal error.
func drainSIEMFile(t *testing.T, r *SIEMFileReader) ([]SIEMEvent, error) {
	t.Helper()
	var out []SIEMEvent
	for range 10_000 {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
	t.Fatal("reader never ended")
	return nil, nil
}

const threeSIEMLines = `{"type":"receipt","timestamp":1731454605992,"aggregateId":"a1"}
{"type":"url protect","timestamp":1731454605993,"aggregateId":"a2"}
{"type":"av","timestamp":1731454605994,"aggregateId":"a3"}
`

func TestSIEMFileReaderBadLineDoesNotStopTheFile(t *testing.T) {
	in := `{"type":"receipt","aggregateId":"a1"}` + "\n" + `{"type":"receipt",` + "\n" + `{"type":"av","aggregateId":"a3"}` + "\n"
	events, err := drainSIEMFile(t, NewSIEMFileReader(io.NopCloser(bytes.NewReader(gzipped(t, in))), 0))
	require.NoError(t, err)
	require.Len(t, events, 3)
	assert.Equal(t, "a1", events[0].AggregateID)
	require.Error(t, events[1].Err)
	assert.Equal(t, `{"type":"receipt",`, string(events[1].Raw))
	assert.Len(t, events[1].ID(), 64)
	assert.Equal(t, "a3", events[2].AggregateID)
}

// gzippedFlushed compresses lines with a flush after each, as a streaming writer does, so that
// a cut in the middle leaves whole lines before it.
func gzippedFlushed(t testing.TB, lines []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, l := range lines {
		_, err := zw.Write([]byte(l + "\n"))
		require.NoError(t, err)
		require.NoError(t, zw.Flush())
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestSIEMFileReaderTruncatedGzipYieldsErrorRecordAfterGoodEvents(t *testing.T) {
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf(`{"type":"spam","aggregateId":"a%d","timestamp":%d}`, i, 1731454605992+i))
	}
	full := gzippedFlushed(t, lines)
	truncated := full[:len(full)/2]
	events, err := drainSIEMFile(t, NewSIEMFileReader(io.NopCloser(bytes.NewReader(truncated)), 0))
	require.NoError(t, err, "a damaged file is data, not a failed call")
	require.GreaterOrEqual(t, len(events), 4)
	for _, e := range events[:len(events)-1] {
		require.NoError(t, e.Err)
	}
	assert.Equal(t, "a0", events[0].AggregateID)
	last := events[len(events)-1]
	require.ErrorIs(t, last.Err, ErrBatchFileCorrupt)
	assert.ErrorIs(t, last.Err, io.ErrUnexpectedEOF)
}

func TestSIEMFileReaderChecksumMismatchIsCorrupt(t *testing.T) {
	b := gzipped(t, threeSIEMLines)
	b[len(b)-8] ^= 0xff // CRC-32 of the trailer
	events, err := drainSIEMFile(t, NewSIEMFileReader(io.NopCloser(bytes.NewReader(b)), 0))
	require.NoError(t, err)
	require.NotEmpty(t, events)
	assert.ErrorIs(t, events[len(events)-1].Err, ErrBatchFileCorrupt)
}

func TestSIEMFileReaderDamagedHeaderIsOneErrorRecord(t *testing.T) {
	b := gzipped(t, threeSIEMLines)
	b[3] = 0xff // reserved flag bits: gzip.ErrHeader
	events, err := drainSIEMFile(t, NewSIEMFileReader(io.NopCloser(bytes.NewReader(b)), 0))
	require.NoError(t, err)
	require.Len(t, events, 1)
	assert.ErrorIs(t, events[0].Err, ErrBatchFileCorrupt)
}

func TestSIEMFileReaderReadsPlainNDJSONAndEmptyFiles(t *testing.T) {
	events, err := drainSIEMFile(t, NewSIEMFileReader(io.NopCloser(strings.NewReader(strings.TrimSuffix(threeSIEMLines, "\n"))), 0))
	require.NoError(t, err)
	require.Len(t, events, 3, "an HTTP stack may already have undone Content-Encoding: gzip")
	assert.Equal(t, "url protect", events[1].Type)

	events, err = drainSIEMFile(t, NewSIEMFileReader(io.NopCloser(strings.NewReader("")), 0))
	require.NoError(t, err)
	assert.Empty(t, events)

	events, err = drainSIEMFile(t, NewSIEMFileReader(io.NopCloser(bytes.NewReader(gzipped(t, ""))), 0))
	require.NoError(t, err)
	assert.Empty(t, events)
}

func TestSIEMFileReaderOverlongLineIsErrorRecord(t *testing.T) {
	in := `{"type":"av","aggregateId":"a1"}` + "\n" + `{"pad":"` + strings.Repeat("z", 5000) + `"}` + "\n" + `{"type":"av","aggregateId":"a3"}`
	r := NewSIEMFileReader(io.NopCloser(bytes.NewReader(gzipped(t, in))), 1024)
	events, err := drainSIEMFile(t, r)
	require.NoError(t, err)
	require.Len(t, events, 3)
	var tl *LineTooLongError
	require.ErrorAs(t, events[1].Err, &tl)
	assert.Len(t, events[1].Raw, 1024)
	assert.Equal(t, "a3", events[2].AggregateID)
	assert.Equal(t, int64(3), r.Line())
}

func TestSIEMFileReaderTransferErrorIsReturned(t *testing.T) {
	full := gzipped(t, threeSIEMLines)
	boom := errors.New("connection reset by peer")
	src := io.MultiReader(bytes.NewReader(full[:len(full)/2]), iotest.ErrReader(boom))
	_, err := drainSIEMFile(t, NewSIEMFileReader(io.NopCloser(src), 0))
	require.ErrorIs(t, err, boom, "a failed transfer is the caller's to retry, not a bad record")
}

func TestSIEMFileReaderIDsAreStableAcrossReads(t *testing.T) {
	read := func() []string {
		events, err := drainSIEMFile(t, NewSIEMFileReader(io.NopCloser(bytes.NewReader(gzipped(t, threeSIEMLines))), 0))
		require.NoError(t, err)
		var ids []string
		for _, e := range events {
			ids = append(ids, e.ID())
		}
		return ids
	}
	first := read()
	assert.Equal(t, first, read())
	assert.Len(t, first, 3)
	assert.NotEqual(t, first[0], first[1])
}
