package email

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzParseEmail feeds arbitrary bytes to the archive's MIME parser: it must never panic, and
// whatever it returns must be usable (no nil email).
func FuzzParseEmail(f *testing.F) {
	for _, seed := range []string{
		"Subject: hi\r\n\r\nbody",
		"Subject: =?UTF-8?B?w6nDqQ==?=\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b--\r\n",
		"Content-Type: text/plain; charset=x-unknown-charset\r\n\r\n\xff\xfe",
		"Content-Type: multipart/alternative\r\n\r\nno boundary",
		nestedMultipart(60),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		email, err := Parse(bytes.NewReader(raw), 1<<16, func(a *Attachment) error {
			_, err := io.Copy(io.Discard, io.LimitReader(a.Body, 1<<20))
			return err
		})
		if email == nil {
			t.Fatalf("nil email (err %v)", err)
		}
	})
}

// nestedMultipart is a message of depth nested multiparts, each holding the next.
func nestedMultipart(depth int) string {
	var b strings.Builder
	b.WriteString("Subject: deep\r\n")
	for i := range depth {
		b.WriteString("Content-Type: multipart/mixed; boundary=b" + strconv.Itoa(i) + "\r\n\r\n--b" + strconv.Itoa(i) + "\r\n")
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nbottom\r\n")
	for i := depth - 1; i >= 0; i-- {
		b.WriteString("--b" + strconv.Itoa(i) + "--\r\n")
	}
	return b.String()
}

func TestMIMEHostileInputIsRefusedOrReadSafely(t *testing.T) {
	t.Run("nesting past the depth limit is a broken message, not a stack overflow", func(t *testing.T) {
		_, err := Parse(strings.NewReader(nestedMultipart(maxMIMEDepth+5)), 1<<16, nil)
		require.Error(t, err)
		assert.True(t, errors.Is(err, ErrBrokenMIME), "%v", err)
	})
	t.Run("a header past the cap is refused before it is held whole", func(t *testing.T) {
		huge := io.MultiReader(strings.NewReader("X-Long: "), &repeatReader{b: 'a', n: 64 << 20})
		_, err := Parse(huge, 1<<16, nil)
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrBrokenMIME)
		assert.Contains(t, err.Error(), "header longer than")
	})
	t.Run("a header just under the cap is read", func(t *testing.T) {
		msg := "X-Long: " + strings.Repeat("a", maxHeaderBytes/2) + "\r\nSubject: ok\r\n\r\nbody"
		email, err := Parse(strings.NewReader(msg), 1<<16, nil)
		require.NoError(t, err)
		assert.Equal(t, "ok", email.Subject)
	})
	t.Run("an unknown charset keeps the bytes as valid UTF-8", func(t *testing.T) {
		email, err := Parse(strings.NewReader("Subject: x\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nabc\xff"), 1<<16, nil)
		require.NoError(t, err)
		assert.Contains(t, email.Text, "abc")
	})
	t.Run("attachment names keep path separators for the output to sanitise", func(t *testing.T) {
		var names []string
		msg := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/octet-stream; name=\"../../etc/passwd\"\r\n\r\nx\r\n--b--\r\n"
		_, err := Parse(strings.NewReader(msg), 1<<16, func(a *Attachment) error {
			names = append(names, a.Name)
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, []string{"../../etc/passwd"}, names, "the name is reported as sent; config/archive_to_files.yaml sanitises it")
	})
}

// repeatReader yields n copies of b without holding them.
type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n)
	for i := range k {
		p[i] = r.b
	}
	r.n -= k
	return k, nil
}

// errTransferCut is the read error of a download cut short by the network.
var errTransferCut = errors.New("connection reset by peer")

// hitCutReader serves data up to cut and then fails as a reset connection would; hit records
// that the failure was read.
type hitCutReader struct {
	data     []byte
	cut, off int
	hit      bool
}

func (c *hitCutReader) Read(p []byte) (int, error) {
	if c.off >= c.cut {
		c.hit = true
		return 0, errTransferCut
	}
	n := copy(p, c.data[c.off:c.cut])
	c.off += n
	return n, nil
}

// FuzzParseEmailTransportCut cuts the download of a message at any byte, in a header name, a
// boundary, a base64 line or anywhere else. Property: once the parser read the cut, the error
// it returns is the transfer's (to be fetched again), never a parse error that would emit the
// email without its content for good.
func FuzzParseEmailTransportCut(f *testing.F) {
	for _, seed := range []string{
		"Subject: hi\r\nX-Long-Header-Name: v\r\n\r\nbody",
		"Subject: =?UTF-8?B?w6nDqQ==?=\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b--\r\n",
		"Content-Type: multipart/alternative; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--zz--\r\n",
	} {
		f.Add([]byte(seed), uint16(17))
	}
	f.Fuzz(func(t *testing.T, raw []byte, cutSeed uint16) {
		if len(raw) == 0 {
			return
		}
		src := &hitCutReader{data: raw, cut: int(cutSeed) % len(raw)}
		email, err := Parse(src, 1<<16, func(a *Attachment) error {
			_, err := io.Copy(io.Discard, io.LimitReader(a.Body, 1<<20))
			return err
		})
		if email == nil {
			t.Fatalf("nil email (err %v)", err)
		}
		if src.hit && !errors.Is(err, errTransferCut) {
			t.Fatalf("the transfer was cut at byte %d, yet Parse returned %v", src.cut, err)
		}
	})
}
