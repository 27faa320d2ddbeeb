package email

import (
	"bytes"
	"encoding/base64"
	"io"
)

// Base64 bodies are most of the bytes an archive crawl reads (attachments), so they are decoded
// here rather than by base64.NewDecoder: that one filters CR and LF a byte at a time and decodes
// 1 KiB at a time, and mailers also put spaces and tabs inside base64, which it rejects and a
// second byte-at-a-time filter had to drop. This decoder drops all four with bytes.IndexByte
// (whole lines are moved at once), so base64.Encoding.Decode only ever sees pure base64, in the
// chunks the multipart reader hands out.

// base64ReadSize is the most encoded text read at once: more than the multipart reader's
// 4 KiB buffer ever yields, so one Read of the part is one Read here.
const base64ReadSize = 8 << 10

// base64Decoder decodes a base64 body, ignoring spaces, tabs, CRs and LFs anywhere in it. Its
// errors are those of base64.NewDecoder: base64.CorruptInputError (counted from the start of
// the body, whitespace left out) for a byte outside the alphabet or data after the padding,
// io.ErrUnexpectedEOF for a body ending inside a quantum, and the reader's own errors as they
// are. Unlike base64.NewDecoder, data after a padded quantum is refused wherever the chunks
// fall, so the result does not depend on how the body was read.
type base64Decoder struct {
	r      io.Reader
	buf    []byte // buf[:nbuf]: pure base64 not decoded yet, fewer than 4 bytes between reads
	nbuf   int
	offset int64  // base64 bytes decoded before buf
	out    []byte // decoded bytes the caller had no room for
	outBuf []byte // out's storage, allocated for callers reading less than a chunk
	padded bool   // a padded quantum was decoded: the body must end there
	err    error  // returned once out is drained
}

func newBase64Decoder(r io.Reader) *base64Decoder {
	return &base64Decoder{r: r, buf: make([]byte, base64ReadSize)}
}

func (d *base64Decoder) Read(p []byte) (int, error) {
	if len(d.out) > 0 {
		n := copy(p, d.out)
		d.out = d.out[n:]
		return n, nil
	}
	if d.err != nil {
		return 0, d.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		// Read no more than p can take once decoded, so that the usual case decodes into p.
		limit := min(len(d.buf), max(len(p)/3*4, d.nbuf+4))
		n, rerr := d.r.Read(d.buf[d.nbuf:limit])
		d.nbuf += stripBase64Space(d.buf[d.nbuf : d.nbuf+n])
		if d.padded && d.nbuf > 0 {
			d.err = base64.CorruptInputError(d.offset)
			return 0, d.err
		}
		if q := d.nbuf / 4 * 4; q > 0 {
			return d.decode(p, q, rerr)
		}
		if rerr != nil {
			d.err = rerr
			if rerr == io.EOF && d.nbuf > 0 {
				d.err = io.ErrUnexpectedEOF
			}
			return 0, d.err
		}
	}
}

// decode decodes the first q bytes of buf (a multiple of 4) into p, or into out when p is too
// small. A read error that came with the data is kept for the next Read.
func (d *base64Decoder) decode(p []byte, q int, rerr error) (int, error) {
	want := q / 4 * 3
	dst := p
	if len(p) < want {
		if cap(d.outBuf) < want {
			d.outBuf = make([]byte, len(d.buf)/4*3)
		}
		dst = d.outBuf[:want]
	}
	n, err := base64.StdEncoding.Decode(dst, d.buf[:q])
	// Decode's only error is a CorruptInputError counted from the start of this chunk.
	corrupt, isCorrupt := err.(base64.CorruptInputError)
	switch {
	case isCorrupt:
		d.err = base64.CorruptInputError(d.offset + int64(corrupt))
	case err != nil:
		d.err = err
	case n < want:
		d.padded = true
	}
	d.offset += int64(q)
	d.nbuf = copy(d.buf, d.buf[q:d.nbuf])
	if d.err == nil && rerr != nil {
		d.err = rerr
		if rerr == io.EOF && d.nbuf > 0 {
			d.err = io.ErrUnexpectedEOF
		}
	}
	if len(p) < want {
		d.out = dst[:n]
		m := copy(p, d.out)
		d.out = d.out[m:]
		if len(d.out) > 0 {
			return m, nil
		}
		p, n = p[:m], m
	}
	if isCorrupt {
		return n, d.err // as base64.NewDecoder: the bytes before the bad one, and the error
	}
	return n, nil
}

// stripBase64Space drops spaces, tabs, CRs and LFs from b in place and returns how many bytes
// are left. Mail is lines of base64 ending in CRLF: each line is moved whole, and only a chunk
// holding a space, a tab or a CR inside a line is filtered a byte at a time.
func stripBase64Space(b []byte) int {
	if bytes.IndexByte(b, ' ') >= 0 || bytes.IndexByte(b, '\t') >= 0 {
		return stripBytewise(b, 0, 0)
	}
	w, r := 0, 0
	for r < len(b) {
		line, next := b[r:], len(b)
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, next = line[:i], r+i+1
		}
		if j := bytes.IndexByte(line, '\r'); j >= 0 {
			if j != len(line)-1 {
				return stripBytewise(b, w, r)
			}
			line = line[:j]
		}
		if w != r {
			copy(b[w:], line)
		}
		w += len(line)
		r = next
	}
	return w
}

// stripBytewise drops the whitespace of b[r:], moving what is kept to b[w:].
func stripBytewise(b []byte, w, r int) int {
	for _, c := range b[r:] {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			b[w] = c
			w++
		}
	}
	return w
}
