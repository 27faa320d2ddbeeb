package mimecast

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"
)

// SIEM batch (Mimecast API 2.0, the bulk endpoint Mimecast recommends): GET /siem/v1/batch/events/cg lists pre-signed URLs of
// gzip-compressed NDJSON files, one event type per call. The files are fetched without the
// bearer token and read as a stream, one event at a time.

const PathSIEMBatch = "/siem/v1/batch/events/cg"

// ErrBatchURLExpired wraps the error of a batch file whose pre-signed URL answered 403 or 404.
// The events are not gone: list the same page token again to get fresh URLs, rather than
// moving past the page.
var ErrBatchURLExpired = errors.New("siem batch file URL expired")

// ErrBatchFileCorrupt marks the per-record error a SIEMFileReader yields when the file ends
// early or its gzip data is damaged. The events before it were good.
var ErrBatchFileCorrupt = errors.New("siem batch file is truncated or corrupt")

// SIEMBatchRequest selects the batch files of one event type.
type SIEMBatchRequest struct {
	Type string // one of the SIEMType* constants, e.g. "url protect"
	// Start and End are sent as dates (YYYY-MM-DD, UTC) when set. The API keeps about 7 days;
	// with neither set it applies its own window.
	Start, End time.Time
}

func (r SIEMBatchRequest) query(pageSize int, pageToken string) url.Values {
	q := restQuery{"dateRangeStartsAt", "dateRangeEndsAt", siemBatchDateLayout}.values(r.Start, r.End, pageSize, pageToken)
	q.Set("type", r.Type)
	return q
}

// SIEMBatchFile is one file of a batch listing.
type SIEMBatchFile struct {
	URL    string `json:"url"`
	Expiry Time   `json:"expiry"`
	Size   int64  `json:"size"` // compressed bytes
}

// SIEMBatchList is one page of the batch listing.
type SIEMBatchList struct {
	// Files in the order listed, each URL once; entries without a URL are left out.
	Files []SIEMBatchFile
	// NextPage is the cursor to resume from. Mimecast returns it on every page, the last and
	// the empty ones included, so it is always what to store once Files are processed.
	NextPage string
	// IsCaughtUp means there is nothing newer yet: wait (files appear about every 15 minutes)
	// before listing NextPage again.
	IsCaughtUp bool
	// DuplicateURLs counts the listed URLs dropped because they appeared earlier in the page.
	DuplicateURLs int
}

// SIEMBatchFilesPage lists one page of batch files; pageToken is the previous NextPage.
func (c *Client) SIEMBatchFilesPage(ctx context.Context, req SIEMBatchRequest, pageToken string) (SIEMBatchList, error) {
	var body json.RawMessage
	q := req.query(min(c.PageSize(), maxRESTPageSize), pageToken)
	if err := c.GetJSON(ctx, PathSIEMBatch, q, &body); err != nil {
		return SIEMBatchList{}, err
	}
	list, err := decodeSIEMBatchList(body)
	if err != nil {
		return SIEMBatchList{}, fmt.Errorf("decoding %s: %w", PathSIEMBatch, err)
	}
	return list, nil
}

func decodeSIEMBatchList(body json.RawMessage) (SIEMBatchList, error) {
	var resp struct {
		Value      []SIEMBatchFile `json:"value"`
		NextPage   string          `json:"@nextPage"`
		IsCaughtUp bool            `json:"isCaughtUp"`
	}
	if err := decodeTolerant(body, &resp); err != nil {
		return SIEMBatchList{}, err
	}
	out := SIEMBatchList{NextPage: resp.NextPage, IsCaughtUp: resp.IsCaughtUp}
	seen := make(map[string]bool, len(resp.Value))
	for _, f := range resp.Value {
		if f.URL == "" {
			continue
		}
		if seen[f.URL] {
			out.DuplicateURLs++
			continue
		}
		seen[f.URL] = true
		out.Files = append(out.Files, f)
	}
	return out, nil
}

// OpenBatchFile downloads one batch file (without the bearer token) and returns a reader of
// its events. An expired URL is an error wrapping ErrBatchURLExpired. The caller closes the
// reader.
func (c *Client) OpenBatchFile(ctx context.Context, fileURL string) (*SIEMFileReader, error) {
	body, err := c.Download(ctx, fileURL)
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Expired() {
			return nil, fmt.Errorf("opening siem batch file %s: %w: %w", redactURL(fileURL), ErrBatchURLExpired, err)
		}
		return nil, fmt.Errorf("opening siem batch file %s: %w", redactURL(fileURL), err)
	}
	return NewSIEMFileReader(body, DefaultMaxLineBytes), nil
}

// SIEMFileReader yields the events of one batch file as they are decompressed: memory stays at
// one line whatever the file's size.
type SIEMFileReader struct {
	body    io.ReadCloser
	src     *bufio.Reader
	lines   *NDJSONReader
	opened  bool
	done    bool
	maxLine int
}

// NewSIEMFileReader reads events from body: gzip-compressed NDJSON, or plain NDJSON when the
// body does not start with the gzip magic (an HTTP stack that already undid a
// Content-Encoding: gzip). maxLineBytes <= 0 means DefaultMaxLineBytes.
func NewSIEMFileReader(body io.ReadCloser, maxLineBytes int) *SIEMFileReader {
	return &SIEMFileReader{body: body, src: bufio.NewReader(transferReader{body}), maxLine: maxLineBytes}
}

// transferError is a read error of the download itself: a cut connection, a body shorter
// than its Content-Length, a deadline. The gzip and line readers pass it on as it is, so it
// stays a failed transfer (read the file again) and never passes for a truncated file, which
// a short body would otherwise look like (both end in io.ErrUnexpectedEOF).
type transferError struct{ err error }

func (e *transferError) Error() string { return e.err.Error() }
func (e *transferError) Unwrap() error { return e.err }

// transferReader marks the errors of the download's reads as transfer errors.
type transferReader struct{ r io.Reader }

func (t transferReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		err = &transferError{err}
	}
	return n, err
}

// Next returns the next event. A line that is not a JSON object, a line over the size limit and
// the end of a truncated or corrupt file come back as an event with Err set (and Raw holding
// what was read), and reading goes on after them. err is io.EOF at the end, or a read error of
// the download itself (a reset connection, a cancelled context): then the file should be read
// again from the start.
func (r *SIEMFileReader) Next() (SIEMEvent, error) {
	if r.done {
		return SIEMEvent{}, io.EOF
	}
	if !r.opened {
		r.opened = true
		bad, ok, err := r.open()
		if err != nil {
			r.done = true
			return SIEMEvent{}, fmt.Errorf("reading siem batch file: %w", err)
		}
		if !ok {
			r.done = true
			return bad, nil
		}
	}
	line, err := r.lines.Next()
	var tooLong *LineTooLongError
	switch {
	case err == nil:
		return decodeRecord[SIEMEvent](line), nil
	case errors.As(err, &tooLong):
		return SIEMEvent{RawRecord: RawRecord{Raw: tooLong.Prefix, Err: err}}, nil
	case errors.Is(err, io.EOF):
		r.done = true
		return SIEMEvent{}, io.EOF
	case isCorruption(err):
		r.done = true
		at := r.lines.Line() // counts the partial line, if one was read
		if len(line) == 0 {
			at++
		}
		return SIEMEvent{RawRecord: RawRecord{
			Raw: line,
			Err: fmt.Errorf("%w at line %d: %w", ErrBatchFileCorrupt, at, err),
		}}, nil
	default:
		r.done = true
		return SIEMEvent{}, fmt.Errorf("reading siem batch file: %w", err)
	}
}

// open sniffs the gzip magic and sets up the line reader. A damaged gzip header is reported as
// a corrupt-file record; a transfer that failed while reading it is an error.
func (r *SIEMFileReader) open() (SIEMEvent, bool, error) {
	var src io.Reader = r.src
	magic, _ := r.src.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(r.src)
		if err != nil && !isCorruption(err) {
			return SIEMEvent{}, false, err
		}
		if err != nil {
			return SIEMEvent{RawRecord: RawRecord{Err: fmt.Errorf("%w: %w", ErrBatchFileCorrupt, err)}}, false, nil
		}
		src = gz
	}
	r.lines = NewNDJSONReader(src, r.maxLine)
	return SIEMEvent{}, true, nil
}

// Line is the number of the NDJSON line the last event came from (1-based). An input that
// stops in the middle of a file can skip this many lines when it reads the file again.
func (r *SIEMFileReader) Line() int64 {
	if r.lines == nil {
		return 0
	}
	return r.lines.Line()
}

// Close releases the download.
func (r *SIEMFileReader) Close() error { return r.body.Close() }

// isCorruption tells damaged data (which re-reading will not fix) from a failed transfer.
func isCorruption(err error) bool {
	var transfer *transferError
	if errors.As(err, &transfer) {
		return false
	}
	var corrupt flate.CorruptInputError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) ||
		errors.Is(err, gzip.ErrHeader) || errors.As(err, &corrupt)
}
