// Package email parses RFC 822 / MIME messages as the archive serves them, in one streaming pass:
// headers (encoded words, address lists, charsets), text and HTML bodies up to a limit, and
// attachments handed to a callback as decoded streams. It knows nothing of Benthos or Mimecast.
package email

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"
)

// Messages are parsed in one streaming pass with the standard library's
// net/mail and mime/multipart, plus golang.org/x/text for charsets the standard library lacks.
// Attachments are never read here: their decoded bytes are handed to a callback as a stream, so
// the caller decides whether to hash, keep or discard them and a large file is never held twice.

// maxMIMEDepth bounds multipart nesting: real mail nests a handful of levels; a message nesting
// deeper is malformed or hostile.
const maxMIMEDepth = 32

// AttachmentReadSize is the read size the body decoders are tuned and tested for: read an
// Attachment's Body in chunks of it.
const AttachmentReadSize = 32 << 10

// Address is a mailbox address of a header: its display name and address.
type Address struct {
	Name    string `json:"name,omitempty"`
	Address string `json:"address"`
}

// Email is what the parser learned from a message.
type Email struct {
	MessageID string
	From      *Address
	To        []Address
	Cc        []Address
	Bcc       []Address
	ReplyTo   []Address
	Subject   string
	Date      time.Time
	Headers   map[string][]string
	Text      string
	HTML      string
	Truncated bool // a body was longer than the limit and was cut
}

// Attachment is one attachment as the parser meets it. Body yields the decoded bytes (base64
// and quoted-printable undone); whatever the callback leaves unread is discarded.
type Attachment struct {
	Index       int // 1-based, in message order
	Name        string
	ContentType string
	ContentID   string
	Inline      bool
	Encoding    string // Content-Transfer-Encoding, lower case
	Body        io.Reader
}

// AttachmentFunc receives each attachment in order; an error stops the parse.
type AttachmentFunc func(a *Attachment) error

// ErrBrokenMIME marks a message whose structure cannot be parsed (as opposed to a failing reader).
var ErrBrokenMIME = errors.New("malformed MIME message")

// mimeParser holds one parse's state.
type mimeParser struct {
	maxBody      int
	onAttachment AttachmentFunc
	words        *mime.WordDecoder
	email        *Email
	attachments  int
	// The bodies as they are read; every text part appends to one of them, within maxBody.
	text, html strings.Builder
}

// Parse parses an RFC 822 message from r. Bodies longer than maxBody bytes (after decoding)
// are cut and flagged. On an error the returned email holds what was parsed before it.
func Parse(r io.Reader, maxBody int, onAttachment AttachmentFunc) (*Email, error) {
	p := &mimeParser{
		maxBody:      maxBody,
		onAttachment: onAttachment,
		words:        &mime.WordDecoder{CharsetReader: charsetReader},
		email:        &Email{Headers: map[string][]string{}},
	}
	src := &stickyReader{r: r}
	e, err := p.parse(src)
	e.Text, e.HTML = p.text.String(), p.html.String()
	if src.err != nil {
		// The reader failed. The line readers of net/textproto and mime/multipart drop a read
		// error that ends a partial line and report a malformed line instead: the error the
		// reader gave is what happened, and reading again may succeed.
		return e, fmt.Errorf("reading the message: %w", src.err)
	}
	return e, err
}

func (p *mimeParser) parse(r io.Reader) (*Email, error) {
	msg, err := mail.ReadMessage(bufio.NewReaderSize(&headerLimitReader{r: r, limit: maxHeaderBytes}, 32<<10))
	if err != nil {
		return p.email, fmt.Errorf("%w: reading the header: %w", ErrBrokenMIME, err)
	}
	p.readHeader(msg.Header)
	if err := p.walk(textproto.MIMEHeader(msg.Header), msg.Body, 0); err != nil {
		return p.email, err
	}
	return p.email, nil
}

// stickyReader remembers the first error of r other than io.EOF.
type stickyReader struct {
	r   io.Reader
	err error
}

func (s *stickyReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

func (p *mimeParser) readHeader(h mail.Header) {
	e := p.email
	for name, values := range h {
		decoded := make([]string, len(values))
		for i, v := range values {
			decoded[i] = p.decodeWords(v)
		}
		e.Headers[name] = decoded
	}
	e.MessageID = strings.TrimSpace(h.Get("Message-Id"))
	e.Subject = strings.TrimSpace(p.decodeWords(h.Get("Subject")))
	if from := p.addresses(h, "From"); len(from) > 0 {
		e.From = &from[0]
	}
	e.To = p.addresses(h, "To")
	e.Cc = p.addresses(h, "Cc")
	e.Bcc = p.addresses(h, "Bcc")
	e.ReplyTo = p.addresses(h, "Reply-To")
	if d, err := mail.ParseDate(h.Get("Date")); err == nil {
		e.Date = d.UTC()
	}
}

// decodeWords decodes RFC 2047 encoded words; text that does not decode is kept as it is.
func (p *mimeParser) decodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return validUTF8(s)
	}
	d, err := p.words.DecodeHeader(s)
	if err != nil {
		return validUTF8(s)
	}
	return validUTF8(d)
}

// addresses parses an address list header. A list that does not parse (common in spam and in
// mail from broken clients) is kept as one address holding the decoded text, not dropped.
func (p *mimeParser) addresses(h mail.Header, name string) []Address {
	raw := h.Get(name)
	if strings.TrimSpace(raw) == "" {
		return nil
	}
	parser := mail.AddressParser{WordDecoder: p.words}
	list, err := parser.ParseList(raw)
	if err != nil {
		return []Address{{Address: strings.TrimSpace(p.decodeWords(raw))}}
	}
	out := make([]Address, 0, len(list))
	for _, a := range list {
		out = append(out, Address{Name: validUTF8(a.Name), Address: strings.ToLower(a.Address)})
	}
	return out
}

// walk handles one MIME entity: a multipart is descended into, a text body is kept, anything
// else is an attachment.
func (p *mimeParser) walk(h textproto.MIMEHeader, body io.Reader, depth int) error {
	if depth > maxMIMEDepth {
		return fmt.Errorf("%w: multiparts nested deeper than %d", ErrBrokenMIME, maxMIMEDepth)
	}
	ctype, params := mediaType(h.Get("Content-Type"), "text/plain")
	disp, dparams := mediaType(h.Get("Content-Disposition"), "")
	if strings.HasPrefix(ctype, "multipart/") {
		return p.walkMultipart(params["boundary"], body, depth)
	}
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	// mime.ParseMediaType already undid RFC 2231 (filename*=UTF-8''...); Outlook and others put
	// RFC 2047 words in the plain parameter instead.
	name = strings.TrimSpace(p.decodeWords(name))
	decoded := transferDecoder(h.Get("Content-Transfer-Encoding"), body)
	isBody := disp != "attachment" && name == "" && (ctype == "text/plain" || ctype == "text/html")
	if isBody {
		return p.readBody(ctype, params["charset"], decoded)
	}
	p.attachments++
	att := &Attachment{
		Index:       p.attachments,
		Name:        name,
		ContentType: ctype,
		ContentID:   strings.Trim(strings.TrimSpace(h.Get("Content-Id")), "<>"),
		Inline:      disp == "inline",
		Encoding:    strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))),
	}
	att.Body = &partReader{r: decoded, index: att.Index}
	if p.onAttachment != nil {
		if err := p.onAttachment(att); err != nil {
			return err
		}
	}
	if _, err := io.Copy(io.Discard, att.Body); err != nil {
		return err
	}
	return nil
}

func (p *mimeParser) walkMultipart(boundary string, body io.Reader, depth int) error {
	if boundary == "" {
		return fmt.Errorf("%w: multipart without a boundary", ErrBrokenMIME)
	}
	mr := multipart.NewReader(body, boundary)
	for {
		// NextRawPart leaves quoted-printable alone, so every part is decoded the same way.
		part, err := mr.NextRawPart()
		if err == io.EOF { // exactly io.EOF: the closing boundary was seen
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBrokenMIME, err)
		}
		if err := p.walk(part.Header, part, depth+1); err != nil {
			return err
		}
	}
}

// readBody keeps a text body: the first plain and the first HTML part are the bodies; further
// unnamed text parts (as Apple Mail sends around inline images) are appended to them. maxBody
// bounds each body, whatever the number of parts: a part past the limit is read and dropped.
func (p *mimeParser) readBody(ctype, charset string, r io.Reader) error {
	dst := &p.text
	if ctype == "text/html" {
		dst = &p.html
	}
	sep := 0
	if dst.Len() > 0 {
		sep = 1
	}
	room := p.maxBody - dst.Len() - sep
	raw, err := io.ReadAll(io.LimitReader(r, int64(max(room, 0))+1))
	if err != nil {
		return fmt.Errorf("%w: reading the %s body: %w", ErrBrokenMIME, ctype, err)
	}
	if len(raw) > max(room, 0) {
		raw = raw[:max(room, 0)]
		p.email.Truncated = true
		if _, err := io.Copy(io.Discard, r); err != nil {
			return fmt.Errorf("%w: reading the %s body: %w", ErrBrokenMIME, ctype, err)
		}
	}
	if len(raw) == 0 {
		return nil
	}
	text := decodeCharset(charset, raw)
	if len(text) > room {
		// A charset decoded to more bytes than it read: cut on a rune boundary.
		cut := room
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
		p.email.Truncated = true
	}
	if sep == 1 {
		dst.WriteByte('\n')
	}
	dst.WriteString(text)
	return nil
}

// partReader marks read errors of an attachment (corrupt base64, a stream cut short) as a broken
// message, so that a callback passing them on needs no wrapping of its own.
type partReader struct {
	r     io.Reader
	index int
}

func (p *partReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: reading attachment %d: %w", ErrBrokenMIME, p.index, err)
	}
	return n, err
}

// mediaType parses a Content-Type or Content-Disposition value. An unparsable value falls back
// to def, as RFC 2045 §5.2 says for a missing or broken Content-Type.
func mediaType(v, def string) (string, map[string]string) {
	if strings.TrimSpace(v) == "" {
		return def, map[string]string{}
	}
	t, params, err := mime.ParseMediaType(v)
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return def, map[string]string{}
	}
	if params == nil {
		params = map[string]string{}
	}
	return strings.ToLower(t), params
}

// transferDecoder undoes a Content-Transfer-Encoding; 7bit, 8bit, binary and unknown encodings
// pass through.
func transferDecoder(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return newBase64Decoder(r)
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// charsetReader is the WordDecoder's and the bodies' charset conversion: every WHATWG encoding
// label (ISO-8859-*, Windows-125x, Shift_JIS, GB18030, KOI8-R, ...) to UTF-8.
func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return r, nil
	}
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, fmt.Errorf("unsupported charset %q: %w", charset, err)
	}
	return enc.NewDecoder().Reader(r), nil
}

// decodeCharset converts a body to UTF-8; an unknown charset keeps the bytes, with invalid
// sequences replaced, rather than losing the body.
func decodeCharset(charset string, raw []byte) string {
	r, err := charsetReader(charset, bytes.NewReader(raw))
	if err != nil {
		return validUTF8(string(raw))
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return validUTF8(string(raw))
	}
	return validUTF8(string(out))
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
