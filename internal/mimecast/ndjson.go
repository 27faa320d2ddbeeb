package mimecast

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxLineBytes bounds one NDJSON line. SIEM events are a few KiB; a line beyond this is
// reported and skipped rather than buffered.
const DefaultMaxLineBytes = 4 << 20

// lineErrorPrefix is how much of an over-long line a LineTooLongError keeps, for the dead
// letter message.
const lineErrorPrefix = 1024

// LineTooLongError reports an NDJSON line longer than the reader's limit. The line was skipped;
// reading continues with the next one.
type LineTooLongError struct {
	Line   int64  // 1-based line number
	Limit  int    // the limit in bytes
	Size   int64  // the line's size in bytes, its line ending included
	Prefix []byte // the start of the line
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("line %d exceeds %d bytes (it holds %d)", e.Line, e.Limit, e.Size)
}

// NDJSONReader splits newline-delimited JSON into lines with bounded memory: it never holds more
// than one line (at most the limit) plus its read buffer, whatever the size of the stream. It
// does not parse JSON.
type NDJSONReader struct {
	br    *bufio.Reader
	limit int
	line  int64
	err   error // sticky read error
	buf   []byte
}

// NewNDJSONReader reads lines from r; maxLineBytes <= 0 means DefaultMaxLineBytes.
func NewNDJSONReader(r io.Reader, maxLineBytes int) *NDJSONReader {
	if maxLineBytes <= 0 {
		maxLineBytes = DefaultMaxLineBytes
	}
	return &NDJSONReader{br: bufio.NewReaderSize(r, 64<<10), limit: maxLineBytes}
}

// Line is the 1-based number of the line Next returned last.
func (r *NDJSONReader) Line() int64 { return r.line }

// Next returns the next line that is not blank, without its line ending (\n or \r\n); the last
// line needs no newline. The returned slice is the caller's. Errors:
//   - *LineTooLongError: that line was skipped; call Next again.
//   - io.EOF: no more lines.
//   - anything else comes from the underlying reader and ends the stream; line then holds what
//     was read of the last, incomplete line (possibly nothing).
func (r *NDJSONReader) Next() (line []byte, err error) {
	for {
		if r.err != nil {
			return nil, r.err
		}
		tooLong, n, err := r.readLine()
		switch {
		case err == io.EOF && n == 0:
			r.err = io.EOF
			return nil, io.EOF
		case err != nil && err != io.EOF:
			r.err = err
			if n == 0 {
				return nil, err
			}
			r.line++
			return bytes.Clone(r.buf), err
		}
		if err == io.EOF {
			r.err = io.EOF // the last line had no newline; report it, then EOF
		}
		r.line++
		if tooLong {
			prefix := bytes.Clone(r.buf[:min(lineErrorPrefix, r.limit, len(r.buf))])
			return nil, &LineTooLongError{Line: r.line, Limit: r.limit, Size: int64(n), Prefix: prefix}
		}
		content := bytes.TrimRight(r.buf, "\r\n")
		if r.line == 1 {
			content = bytes.TrimPrefix(content, []byte("\xef\xbb\xbf"))
		}
		if len(bytes.TrimSpace(content)) == 0 {
			continue
		}
		return bytes.Clone(content), nil
	}
}

// readLine reads one line into r.buf, keeping at most limit+2 bytes (room for the \r\n that is
// not part of the line) and discarding the rest. n is the number of bytes consumed.
func (r *NDJSONReader) readLine() (tooLong bool, n int, err error) {
	r.buf = r.buf[:0]
	keep := r.limit + 2
	for {
		chunk, err := r.br.ReadSlice('\n')
		n += len(chunk)
		if room := keep - len(r.buf); room > 0 {
			r.buf = append(r.buf, chunk[:min(room, len(chunk))]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		tooLong = n > keep || len(bytes.TrimRight(r.buf, "\r\n")) > r.limit
		return tooLong, n, err
	}
}
