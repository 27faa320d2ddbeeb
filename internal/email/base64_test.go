package email

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// base64Reference decodes a whole body at once, whitespace dropped first: what the streaming
// decoder must give however the body is read.
func base64Reference(body []byte) ([]byte, error) {
	clean := bytes.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, body)
	out := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
	n, err := base64.StdEncoding.Decode(out, clean)
	return out[:n], err
}

// readings are the ways a body reaches the decoder and is read from it: the source's chunks
// (as the multipart reader hands them out, or a byte at a time) and the caller's buffer.
var readings = []struct {
	name   string
	source func(io.Reader) io.Reader
	bufLen int
}{
	{"whole, 32 KiB reads", func(r io.Reader) io.Reader { return r }, AttachmentReadSize},
	{"one byte at a time, 32 KiB reads", iotest.OneByteReader, AttachmentReadSize},
	{"half reads, 4 KiB reads", iotest.HalfReader, 4096},
	{"whole, 1-byte reads", func(r io.Reader) io.Reader { return r }, 1},
	{"whole, 2-byte reads", func(r io.Reader) io.Reader { return r }, 2},
	{"data with EOF, 7-byte reads", iotest.DataErrReader, 7},
}

// decodeAll reads the decoder to its end with reads of bufLen bytes.
func decodeAll(r io.Reader, bufLen int) ([]byte, error) {
	var out []byte
	buf := make([]byte, bufLen)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func TestArchiveBase64DecoderIgnoresWhitespaceAnywhere(t *testing.T) {
	data := bytes.Repeat([]byte("any \x00\xff binary payload, "), 1000)
	enc := base64.StdEncoding.EncodeToString(data)
	lines := func(width int, eol string) string {
		var b strings.Builder
		for s := enc; len(s) > 0; s = s[min(width, len(s)):] {
			b.WriteString(s[:min(width, len(s))] + eol)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name string
		body string
		want []byte
	}{
		{"76-character lines, CRLF", lines(76, "\r\n"), data},
		{"76-character lines, LF", lines(76, "\n"), data},
		{"one line", enc, data},
		{"lines of 3, cutting quanta", lines(3, "\r\n"), data},
		{"spaces and tabs inside and around lines", " \t" + strings.ReplaceAll(lines(76, "\r\n"), "A", " A\t") + " \r\n\t", data},
		{"a stray CR inside a line", strings.Replace(lines(76, "\r\n"), "B", "\rB", 3), data},
		{"blank lines", strings.ReplaceAll(lines(64, "\r\n"), "\r\n", "\r\n\r\n \r\n"), data},
		{"one padding byte", "QUI=\r\n", []byte("AB")},
		{"two padding bytes, split by a line break", "QQ=\r\n=\r\n", []byte("A")},
		{"empty", "", []byte{}},
		{"whitespace only", " \r\n\t\r\n", []byte{}},
	} {
		want, err := base64Reference([]byte(tc.body))
		require.NoError(t, err, "the reference must accept %s", tc.name)
		require.Equal(t, tc.want, want)
		for _, rd := range readings {
			t.Run(tc.name+"/"+rd.name, func(t *testing.T) {
				got, err := decodeAll(newBase64Decoder(rd.source(strings.NewReader(tc.body))), rd.bufLen)
				require.NoError(t, err)
				assert.True(t, bytes.Equal(tc.want, got), "decoded %d bytes, want %d", len(got), len(tc.want))
			})
		}
	}
}

func TestArchiveBase64DecoderRefusesBrokenBodiesAsTheStandardDecoderDoes(t *testing.T) {
	cut := errors.New("connection reset")
	for _, tc := range []struct {
		name    string
		body    string
		readErr error // the source fails with it after body
		corrupt int64 // offset of a CorruptInputError, counted without whitespace; -1: none
		wantErr error // when not a CorruptInputError
	}{
		{"a byte outside the alphabet", "QUJD\r\nRE!G\r\n", nil, 6, nil},
		{"not base64 at all", "!!!!not base64!!!!\r\n", nil, 0, nil},
		{"data after the padding", "QQ==\r\nQUJD\r\n", nil, 4, nil},
		{"padding inside a quantum", "QQ=A", nil, 2, nil},
		{"ending inside a quantum", "QUJD\r\nRE\r\n", nil, -1, io.ErrUnexpectedEOF},
		{"the reader's error", "QUJD\r\n", cut, -1, cut},
	} {
		for _, rd := range readings {
			t.Run(tc.name+"/"+rd.name, func(t *testing.T) {
				var src io.Reader = strings.NewReader(tc.body)
				if tc.readErr != nil {
					src = io.MultiReader(src, iotest.ErrReader(tc.readErr))
				}
				_, err := decodeAll(newBase64Decoder(rd.source(src)), rd.bufLen)
				require.Error(t, err)
				var corrupt base64.CorruptInputError
				if tc.corrupt >= 0 {
					require.ErrorAs(t, err, &corrupt)
					assert.Equal(t, tc.corrupt, int64(corrupt))
					return
				}
				assert.ErrorIs(t, err, tc.wantErr)
			})
		}
	}
}

func TestArchiveBase64DecoderGivesTheBytesBeforeAnErrorAndThenKeepsFailing(t *testing.T) {
	d := newBase64Decoder(strings.NewReader("QUJD\r\nREVG\r\n!!!!"))
	buf := make([]byte, 64)
	n, err := d.Read(buf)
	assert.Equal(t, "ABCDEF", string(buf[:n]))
	require.Error(t, err)
	n, again := d.Read(buf)
	assert.Zero(t, n)
	assert.Equal(t, err, again)
}

// FuzzArchiveBase64Decoder: however a body is chunked and read, the decoder gives exactly what
// decoding the whole body at once gives, and fails where that fails.
func FuzzArchiveBase64Decoder(f *testing.F) {
	for _, seed := range []string{"QUJD\r\nREVG\r\n", "QQ==", "QQ==QUJD", " Q U J D ", "QUJ\rD", "QUI", "!!!!", ""} {
		f.Add([]byte(seed), uint8(0), uint16(AttachmentReadSize))
		f.Add([]byte(seed), uint8(3), uint16(1))
	}
	f.Fuzz(func(t *testing.T, body []byte, chunk uint8, bufLen uint16) {
		want, wantErr := base64Reference(body)
		var src io.Reader = bytes.NewReader(body)
		if chunk > 0 {
			src = &chunkReader{r: src, n: int(chunk)}
		}
		got, err := decodeAll(newBase64Decoder(src), max(int(bufLen), 1))
		if wantErr != nil {
			if err == nil {
				t.Fatalf("decoded %q without an error; the whole body fails with %v", body, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("decoding %q: %v; the whole body decodes", body, err)
		}
		if !bytes.Equal(want, got) {
			t.Fatalf("decoding %q: got %x, want %x", body, got, want)
		}
	})
}

// chunkReader yields at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.n)])
}
