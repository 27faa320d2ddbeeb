package email

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/email/emailtest"
)

// mimeCRLF turns a readable test message into the CRLF form mail travels in.
func mimeCRLF(s string) string { return strings.ReplaceAll(strings.TrimPrefix(s, "\n"), "\n", "\r\n") }

type seenAttachment struct {
	name, ctype, cid string
	inline           bool
	data             []byte
}

func parseMIMEForTest(t *testing.T, msg string) (*Email, []seenAttachment, error) {
	t.Helper()
	var atts []seenAttachment
	e, err := Parse(strings.NewReader(msg), 1<<20, func(a *Attachment) error {
		b, err := io.ReadAll(a.Body)
		if err != nil {
			return err
		}
		atts = append(atts, seenAttachment{name: a.Name, ctype: a.ContentType, cid: a.ContentID, inline: a.Inline, data: b})
		return nil
	})
	return e, atts, err
}

func TestMIMEDecodesEncodedWordSubjectsInEveryCharset(t *testing.T) {
	for _, tc := range []struct{ name, header, want string }{
		{"B UTF-8", "=?UTF-8?B?UmVjaG51bmcgZsO8ciBNw6Ryeg==?=", "Rechnung für März"},
		{"Q ISO-8859-1", "=?ISO-8859-1?Q?Caf=E9_d=E9j=E0_vu?=", "Café déjà vu"},
		{"Q UTF-8 with emoji", "=?UTF-8?Q?=E4=BC=9A=E8=AE=AE_=F0=9F=93=8E?=", "会议 📎"},
		{"windows-1252", "=?windows-1252?Q?=93quoted=94?=", "\u201cquoted\u201d"},
		{"KOI8-R", "=?KOI8-R?B?8NLJ18XU?=", "Привет"},
		{"Shift_JIS", "=?Shift_JIS?B?g2WDWINn?=", "テスト"},
		{"two words joined", "=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab"},
		{"unknown charset kept as written", "=?x-unknown?Q?abc?=", "=?x-unknown?Q?abc?="},
		{"plain", "Quarterly report", "Quarterly report"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _, err := parseMIMEForTest(t, mimeCRLF("From: a@example.com\nSubject: "+tc.header+"\n\nbody\n"))
			require.NoError(t, err)
			assert.Equal(t, tc.want, e.Subject)
		})
	}
}

func TestMIMEReadsAddressesDatesAndHeaders(t *testing.T) {
	e, _, err := parseMIMEForTest(t, mimeCRLF(`
From: =?UTF-8?Q?Jos=C3=A9_M=C3=BCller?= <Jose@Example.NET>
To: "Alice" <alice@corp.example.com>, bob@corp.example.com
Cc: undisclosed-recipients:;
Reply-To: not an address <<<
Date: Tue, 02 Jan 2024 10:00:00 +0100
Message-ID: <abc@mail.example>
X-Custom: =?UTF-8?B?w6k=?=

Hello
`))
	require.NoError(t, err)
	require.NotNil(t, e.From)
	assert.Equal(t, Address{Name: "José Müller", Address: "jose@example.net"}, *e.From)
	assert.Equal(t, []Address{{Name: "Alice", Address: "alice@corp.example.com"}, {Address: "bob@corp.example.com"}}, e.To)
	assert.Equal(t, []Address{{Address: "not an address <<<"}}, e.ReplyTo, "an unparsable list is kept as text")
	assert.Equal(t, "2024-01-02T09:00:00Z", e.Date.Format("2006-01-02T15:04:05Z07:00"))
	assert.Equal(t, "<abc@mail.example>", e.MessageID)
	assert.Equal(t, []string{"é"}, e.Headers["X-Custom"])
	assert.Equal(t, "Hello\r\n", e.Text)
}

func TestMIMEWalksNestedMultipartsAndDecodesBodiesAndFileNames(t *testing.T) {
	pdf := bytes.Repeat([]byte("%PDF-1.7 \x00\xff binary "), 100)
	zip := []byte("PK\x03\x04 zip bytes")
	b64 := func(b []byte) string {
		s := base64.StdEncoding.EncodeToString(b)
		var out strings.Builder
		for len(s) > 76 {
			out.WriteString(s[:76] + "\n")
			s = s[76:]
		}
		out.WriteString(s)
		return out.String()
	}
	msg := mimeCRLF(`
From: a@example.com
Subject: nested
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

preamble
--outer
Content-Type: multipart/mixed; boundary="inner"

--inner
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Gr=FC=DFe, caf=E9
--alt
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

PHA+SGk8L3A+
--alt--
--inner
Content-Type: application/pdf; name="=?UTF-8?B?UsOpc3Vtw6kucGRm?="
Content-Disposition: attachment; filename*=UTF-8''R%C3%A9sum%C3%A9%20%E2%80%93%202024.pdf
Content-Transfer-Encoding: base64

` + b64(pdf) + `
--inner--
--outer
Content-Type: application/zip; name="=?UTF-8?Q?=E4=BC=9A=E8=AE=AE.zip?="
Content-Transfer-Encoding: base64

` + b64(zip) + `
--outer
Content-Type: image/png
Content-ID: <img1@x>
Content-Disposition: inline
Content-Transfer-Encoding: base64

iVBO R  w0K
--outer--
`)
	e, atts, err := parseMIMEForTest(t, msg)
	require.NoError(t, err)
	assert.Equal(t, "Grüße, café", e.Text, "quoted-printable ISO-8859-1 body decoded")
	assert.Equal(t, "<p>Hi</p>", e.HTML)
	require.Len(t, atts, 3)
	assert.Equal(t, "Résumé – 2024.pdf", atts[0].name, "RFC 2231 filename* wins over the encoded-word name")
	assert.Equal(t, "application/pdf", atts[0].ctype)
	assert.Equal(t, emailtest.SHA256Hex(pdf), emailtest.SHA256Hex(atts[0].data), "base64 attachment decoded byte for byte")
	assert.Equal(t, "会议.zip", atts[1].name, "RFC 2047 word in name= decoded")
	assert.Equal(t, zip, atts[1].data)
	assert.Empty(t, atts[2].name, "a nameless inline image is an attachment without a name")
	assert.Equal(t, "img1@x", atts[2].cid)
	assert.True(t, atts[2].inline)
	assert.Equal(t, []byte{0x89, 'P', 'N', 'G', '\r', '\n'}, atts[2].data, "spaces inside base64 are ignored")
}

func TestMIMETruncatesLongBodies(t *testing.T) {
	long := strings.Repeat("x", 100)
	var got *Email
	got, err := Parse(strings.NewReader(mimeCRLF("Subject: s\n\n"+long+"\n")), 10, nil)
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("x", 10), got.Text)
	assert.True(t, got.Truncated)
}

func TestMIMEReportsBrokenStructureWithWhatWasParsed(t *testing.T) {
	for _, tc := range []struct{ name, msg string }{
		{"multipart without boundary", "Subject: broken\nContent-Type: multipart/mixed\n\n--x\n\nbody\n"},
		{"closing boundary missing", "Subject: broken\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\npart one\n"},
		{"corrupt base64 attachment", "Subject: broken\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n\n!!!!not base64!!!!\n--b--\n"},
		{"no header at all", "\x00\x01 not a message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _, err := parseMIMEForTest(t, mimeCRLF(tc.msg))
			require.ErrorIs(t, err, ErrBrokenMIME)
			require.NotNil(t, e)
			if tc.name != "no header at all" {
				assert.Equal(t, "broken", e.Subject, "the header parsed before the error is kept")
			}
		})
	}
}

func TestMIMEDefaultsToPlainTextForAMissingOrBrokenContentType(t *testing.T) {
	e, atts, err := parseMIMEForTest(t, mimeCRLF("Subject: s\nContent-Type: ;;;\n\nbody text\n"))
	require.NoError(t, err)
	assert.Equal(t, "body text\r\n", e.Text)
	assert.Empty(t, atts)
}

func TestMIMETreatsAttachedMessagesAndNamedTextAsAttachments(t *testing.T) {
	e, atts, err := parseMIMEForTest(t, mimeCRLF(`
Subject: fwd
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

see attached
--b
Content-Type: message/rfc822

Subject: inner

inner body
--b
Content-Type: text/csv; name=data.csv

a,b
--b--
`))
	require.NoError(t, err)
	assert.Equal(t, "see attached", e.Text)
	require.Len(t, atts, 2)
	assert.Equal(t, "message/rfc822", atts[0].ctype)
	assert.Contains(t, string(atts[0].data), "inner body")
	assert.Equal(t, "data.csv", atts[1].name)
}

// cutReader gives data and then fails with err, as a transfer cut short does.
type cutReader struct {
	data []byte
	err  error
}

func (c *cutReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, c.err
	}
	n := copy(p, c.data)
	c.data = c.data[n:]
	return n, nil
}

// A transfer cut anywhere (inside a header name, after a colon, inside a part's header, inside
// a body) is a read failure of the source, never a malformed message.
func TestParseReportsACutTransferAsAReadFailureWherever(t *testing.T) {
	reset := errors.New("connection reset by peer")
	msg := "From: a@example.com\r\nTo: b@example.com\r\nX-Long-Header: value\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=BOUND\r\n\r\n--BOUND\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
		"--BOUND\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\nPDFDATA\r\n--BOUND--\r\n"
	for _, cut := range []string{"X-Lo", "X-Long-Header:", "Content-Ty", "hel", "--BOUND\r\nContent-Disp", "PDFD"} {
		t.Run(cut, func(t *testing.T) {
			at := strings.Index(msg, cut) + len(cut)
			_, err := Parse(&cutReader{data: []byte(msg[:at]), err: reset}, 1<<20, func(a *Attachment) error {
				_, err := io.Copy(io.Discard, a.Body)
				return err
			})
			require.Error(t, err)
			assert.ErrorIs(t, err, reset)
			assert.NotErrorIs(t, err, ErrBrokenMIME)
		})
	}
	_, err := Parse(strings.NewReader(msg), 1<<20, nil)
	require.NoError(t, err, "the whole message parses")
}

// max_body_size bounds the text of an email, whatever the number of its text parts, and many
// parts cost linear time.
func TestParseBoundsTheBodiesAcrossManyTextParts(t *testing.T) {
	cases := []struct {
		name         string
		parts, size  int
		maxBody      int
		wantTextLen  int
		wantTruncate bool
	}{
		{"300 parts of 64 KiB under a 1 MiB limit", 300, 64 << 10, 1 << 20, 1 << 20, true},
		{"10,000 parts of 4 KiB", 10000, 4 << 10, 1 << 20, 1 << 20, true},
		{"3 small parts fit", 3, 10, 1 << 20, 3*10 + 2, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n")
			for range tc.parts {
				b.WriteString("--B\r\nContent-Type: text/plain\r\n\r\n")
				b.WriteString(strings.Repeat("t", tc.size))
				b.WriteString("\r\n")
			}
			b.WriteString("--B--\r\n")
			e, err := Parse(strings.NewReader(b.String()), tc.maxBody, nil)
			require.NoError(t, err)
			assert.Len(t, e.Text, tc.wantTextLen)
			assert.Equal(t, tc.wantTruncate, e.Truncated)
		})
	}
}
