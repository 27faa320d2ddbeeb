package mimecastfake

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testMessage(t *testing.T, m, n int, sz Sizes) archMsg {
	t.Helper()
	sz.AttachmentBytes = max(sz.AttachmentBytes, 2048)
	owner := user{Name: "Alice Example", Email: "alice@corp0.example.com", Domain: "corp0.example.com"}
	return buildMessage(7, owner, m, n, harnessAnchor.Add(-time.Hour), "<id.test@fake>", sz)
}

func renderMessage(t *testing.T, msg *archMsg) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, writeMessage(&b, msg))
	return b.Bytes()
}

// leafPart is a decoded non-multipart part found while walking a message.
type leafPart struct {
	contentType string
	filename    string
	body        []byte
}

// walkParts decodes every leaf of a MIME entity, recursing into nested multiparts.
func walkParts(t *testing.T, header map[string][]string, body io.Reader) []leafPart {
	t.Helper()
	get := func(k string) string {
		if v := header[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	ctype, params, err := mime.ParseMediaType(get("Content-Type"))
	require.NoError(t, err)
	if strings.HasPrefix(ctype, "multipart/") {
		var out []leafPart
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return out
			}
			require.NoError(t, err)
			out = append(out, walkParts(t, p.Header, p)...)
		}
	}
	var r io.Reader = body
	switch strings.ToLower(get("Content-Transfer-Encoding")) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body)
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	}
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	leaf := leafPart{contentType: ctype, body: data}
	if cd := get("Content-Disposition"); cd != "" {
		_, dp, err := mime.ParseMediaType(cd)
		require.NoError(t, err)
		leaf.filename = dp["filename"]
	}
	return []leafPart{leaf}
}

func TestEveryMessageVariantParsesWithDecodedHeaders(t *testing.T) {
	dec := new(mime.WordDecoder)
	for n := range msgVariants {
		msg := testMessage(t, 0, n, Sizes{})
		raw := renderMessage(t, &msg)
		parsed, err := mail.ReadMessage(bytes.NewReader(raw))
		require.NoError(t, err, "variant %d", msg.variant)

		subject, err := dec.DecodeHeader(parsed.Header.Get("Subject"))
		require.NoError(t, err)
		assert.Equal(t, msg.subject, subject, "variant %d", msg.variant)
		assert.Equal(t, "<id.test@fake>", parsed.Header.Get("Message-ID"))
		from, err := parsed.Header.AddressList("From")
		require.NoError(t, err)
		assert.Equal(t, msg.from.Email, from[0].Address)
		date, err := parsed.Header.Date()
		require.NoError(t, err)
		assert.True(t, date.Equal(msg.headerDate()))
		assert.Len(t, parsed.Header["Received"], 2)
		assert.Equal(t, len(raw), msg.size(), "size() must equal the rendered length")
	}
}

func TestSubjectsCoverEncodedWordsAndEmpty(t *testing.T) {
	headers := map[int]string{}
	for n := range msgVariants {
		msg := testMessage(t, 0, n, Sizes{})
		headers[msg.variant] = msg.subjHdr
	}
	assert.True(t, strings.HasPrefix(headers[variantUTF8Subject], "=?UTF-8?b?"), headers[variantUTF8Subject])
	assert.True(t, strings.HasPrefix(headers[variantUTF8QSubject], "=?UTF-8?q?"), headers[variantUTF8QSubject])
	assert.True(t, strings.HasPrefix(headers[variantLatin1Subject], "=?ISO-8859-1?q?"), headers[variantLatin1Subject])
	assert.Empty(t, headers[variantEmptySubject])

	empty := testMessage(t, 0, variantEmptySubject, Sizes{})
	raw := renderMessage(t, &empty)
	assert.Contains(t, string(raw), "\r\nSubject:\r\n")
}

func TestAttachmentsDecodeToTheGeneratedBytes(t *testing.T) {
	for n := range msgVariants {
		msg := testMessage(t, 3, n, Sizes{AttachmentBytes: 3000})
		parsed, err := mail.ReadMessage(bytes.NewReader(renderMessage(t, &msg)))
		require.NoError(t, err)
		leaves := walkParts(t, parsed.Header, parsed.Body)

		var files []leafPart
		var plain, html []byte
		for _, l := range leaves {
			switch {
			case l.filename != "":
				files = append(files, l)
			case l.contentType == "text/plain":
				plain = l.body
			case l.contentType == "text/html":
				html = l.body
			}
		}
		require.Len(t, files, len(msg.atts), "variant %d", msg.variant)
		for i, a := range msg.atts {
			want, err := io.ReadAll(newAttReader(&a))
			require.NoError(t, err)
			assert.Equal(t, a.filename, files[i].filename)
			assert.Equal(t, a.size, len(files[i].body))
			assert.Equal(t, sha256.Sum256(want), sha256.Sum256(files[i].body))
		}
		// A single-part message ends with the message's final CRLF.
		assert.Equal(t, strings.ReplaceAll(msg.bodyText, "\n", "\r\n"), strings.TrimSuffix(string(plain), "\r\n"))
		if msg.variant == variantPlainOnly {
			assert.Nil(t, html)
		} else {
			assert.Equal(t, msg.bodyHTML, string(html))
		}
	}
}

func TestNonASCIIFileNameUsesRFC2231(t *testing.T) {
	msg := testMessage(t, 0, variantLatin1Subject, Sizes{})
	require.Equal(t, variantLatin1Subject, msg.variant)
	raw := string(renderMessage(t, &msg))
	assert.Contains(t, raw, "filename*=utf-8''R%C3%A9sum%C3%A9%20%E2%80%93%202024.pdf")
	assert.Contains(t, raw, `name="=?UTF-8?b?`)
}

func TestAttachmentsStartWithTheirFileTypeMagic(t *testing.T) {
	for kind, magic := range map[string]string{"pdf": "%PDF-", "docx": "PK\x03\x04", "zip": "PK\x03\x04"} {
		a := attachment{ext: kind, size: 4096, key: 1}
		b, err := io.ReadAll(newAttReader(&a))
		require.NoError(t, err)
		assert.Len(t, b, 4096)
		assert.True(t, bytes.HasPrefix(b, []byte(magic)), kind)
	}
}

func TestLargeAttachmentShareFollowsSizes(t *testing.T) {
	all := testMessage(t, 0, variantTwoAttachment, Sizes{LargeAttachmentPct: 100})
	for _, a := range all.atts {
		assert.Equal(t, LargeAttachmentBytes, a.size)
	}
	none := testMessage(t, 0, variantTwoAttachment, Sizes{AttachmentBytes: 2048})
	for _, a := range none.atts {
		assert.InDelta(t, 2048, a.size, 2048/4+1)
	}
}

func TestLargeMessageRendersWithoutHoldingItInMemory(t *testing.T) {
	msg := testMessage(t, 0, variantTwoAttachment, Sizes{LargeAttachmentPct: 100})
	require.Greater(t, msg.size(), 2*LargeAttachmentBytes)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	require.NoError(t, writeMessage(io.Discard, &msg))
	runtime.ReadMemStats(&after)
	// 13 MB of output; the generator's buffers are tens of KB.
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20))
}

func TestBase64LinesLenMatchesEncoder(t *testing.T) {
	for _, n := range []int{1, 2, 3, 56, 57, 58, 114, 1000, 4096} {
		var b bytes.Buffer
		lw := &lineWrapper{w: &b}
		enc := base64.NewEncoder(base64.StdEncoding, lw)
		_, _ = enc.Write(make([]byte, n))
		require.NoError(t, enc.Close())
		assert.Equal(t, b.Len(), base64LinesLen(n), "n=%d", n)
		for _, line := range strings.Split(b.String(), "\r\n") {
			assert.LessOrEqual(t, len(line), 76)
		}
	}
}

func TestMessagesAreDeterministic(t *testing.T) {
	a := testMessage(t, 2, 5, Sizes{})
	b := testMessage(t, 2, 5, Sizes{})
	assert.Equal(t, renderMessage(t, &a), renderMessage(t, &b))
	other := buildMessage(8, user{Name: "Alice Example", Email: "alice@corp0.example.com", Domain: "corp0.example.com"},
		2, 5, harnessAnchor.Add(-time.Hour), "<id.test@fake>", Sizes{AttachmentBytes: 2048})
	assert.NotEqual(t, renderMessage(t, &a), renderMessage(t, &other))
}
