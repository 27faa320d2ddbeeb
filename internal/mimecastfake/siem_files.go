package mimecastfake

import (
	"bufio"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SIEM batch files are served by the fake itself on a public path, pre-signed the way S3 URLs
// are: no bearer token, an HMAC over the file and its validity in the query, and S3's XML
// errors. A client that sends its Mimecast token to such a URL is told off with S3's 400, so a
// credential leak to the storage host shows up in tests.

const (
	siemFilesPrefix = "/siem-files/"
	siemFileSuffix  = ".json.gz"
	amzDateLayout   = "20060102T150405Z"
)

func (s *Server) signingKey() []byte {
	var b [16]byte
	h1, h2 := detHash(s.opts.Seed, kindSIEMSign, 0, 0, 0), detHash(s.opts.Seed, kindSIEMSign, 1, 0, 0)
	for k := 0; k < 8; k++ {
		b[k], b[8+k] = byte(h1>>(8*k)), byte(h2>>(8*k))
	}
	return b[:]
}

func (s *Server) fileSignature(name, amzDate, expires string) string {
	m := hmac.New(sha256.New, s.signingKey())
	fmt.Fprintf(m, "%s\n%s\n%s", name, amzDate, expires)
	return hex.EncodeToString(m.Sum(nil))
}

// signFileURL builds the pre-signed URL of f, valid from issued for the SIEM URL TTL.
func (s *Server) signFileURL(r *http.Request, f siemFile, issued time.Time) (string, time.Time) {
	name := packInts('F', f.ti, f.start, f.end, f.flags)
	ttl := s.siemURLTTL()
	amzDate := issued.UTC().Format(amzDateLayout)
	expires := strconv.Itoa(int(ttl / time.Second))
	q := url.Values{}
	q.Set("X-Amz-Algorithm", "AWS4-HMAC-SHA256")
	q.Set("X-Amz-Credential", "AKIAFAKEMIMECAST/"+issued.UTC().Format("20060102")+"/us-east-1/s3/aws4_request")
	q.Set("X-Amz-Date", amzDate)
	q.Set("X-Amz-Expires", expires)
	q.Set("X-Amz-SignedHeaders", "host")
	q.Set("X-Amz-Signature", s.fileSignature(name, amzDate, expires))
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: siemFilesPrefix + name + siemFileSuffix, RawQuery: q.Encode()}
	return u.String(), issued.Add(ttl)
}

// s3Error is S3's XML error body.
type s3Error struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	Expires    string   `xml:"Expires,omitempty"`
	ServerTime string   `xml:"ServerTime,omitempty"`
	RequestID  string   `xml:"RequestId"`
}

func writeS3Error(w http.ResponseWriter, status int, e s3Error) {
	e.RequestID = "FAKE0000REQUEST"
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(e)
}

// siemFile serves GET /siem-files/{name}.json.gz: a gzip NDJSON batch, streamed.
func (s *Server) siemFile(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		writeS3Error(w, http.StatusBadRequest, s3Error{Code: "InvalidArgument",
			Message: "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"})
		return
	}
	name, ok := strings.CutSuffix(r.PathValue("file"), siemFileSuffix)
	if !ok {
		writeS3Error(w, http.StatusNotFound, s3Error{Code: "NoSuchKey", Message: "The specified key does not exist."})
		return
	}
	q := r.URL.Query()
	amzDate, expires, sig := q.Get("X-Amz-Date"), q.Get("X-Amz-Expires"), q.Get("X-Amz-Signature")
	if amzDate == "" || expires == "" || sig == "" {
		writeS3Error(w, http.StatusForbidden, s3Error{Code: "AccessDenied", Message: "Query-string authentication requires the X-Amz-Signature, X-Amz-Date and X-Amz-Expires parameters"})
		return
	}
	if !hmac.Equal([]byte(sig), []byte(s.fileSignature(name, amzDate, expires))) {
		writeS3Error(w, http.StatusForbidden, s3Error{Code: "SignatureDoesNotMatch",
			Message: "The request signature we calculated does not match the signature you provided. Check your key and signing method."})
		return
	}
	issued, err1 := time.Parse(amzDateLayout, amzDate)
	secs, err2 := strconv.Atoi(expires)
	v, ok := unpackInts('F', name, 4)
	if err1 != nil || err2 != nil || !ok || v[0] < 0 || v[0] >= len(siemTypes) || v[1] < 0 || v[2] < v[1] {
		writeS3Error(w, http.StatusNotFound, s3Error{Code: "NoSuchKey", Message: "The specified key does not exist."})
		return
	}
	now := s.now()
	if exp := issued.Add(time.Duration(secs) * time.Second); now.After(exp) {
		writeS3Error(w, http.StatusForbidden, s3Error{Code: "AccessDenied", Message: "Request has expired",
			Expires: exp.UTC().Format(time.RFC3339), ServerTime: now.UTC().Format(time.RFC3339)})
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.WriteHeader(http.StatusOK)
	_ = s.writeBatchFile(w, siemFile{ti: v[0], start: v[1], end: v[2], flags: v[3]})
}

// batchWriter holds what writing one batch file takes. It is pooled: a gzip compressor is
// large, and allocating one per file was a good part of what a file cost to serve.
type batchWriter struct {
	bw    *bufio.Writer
	gz    *gzip.Writer
	ev    siemEvent
	lines []byte // lines not yet handed to gz, written in chunks
}

var batchWriters = sync.Pool{New: func() any {
	bw := bufio.NewWriterSize(io.Discard, 32<<10)
	// BestSpeed: the fake's job is to feed a client quickly; the ratio does not matter.
	gz, err := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if err != nil {
		panic(err) // BestSpeed is a valid level
	}
	return &batchWriter{bw: bw, gz: gz, lines: make([]byte, 0, 40<<10)}
}}

// flushLines hands the buffered lines to the compressor.
func (b *batchWriter) flushLines() error {
	if len(b.lines) == 0 {
		return nil
	}
	_, err := b.gz.Write(b.lines)
	b.lines = b.lines[:0]
	return err
}

// writeBatchFile streams the gzip NDJSON of f: events are generated one at a time and
// compressed in chunks, so memory does not depend on the file's size. Some files end with a
// newline and some do not, as integrators report real ones do. The fault flags cut the gzip stream
// half-way (after a sync flush, so a reader gets the first half and then an unexpected EOF) or
// insert one broken JSON line in the middle.
// padChunk is what Sizes.SIEMLinePadBytes pads lines with.
var padChunk = strings.Repeat("x", 4096)

func (s *Server) writeBatchFile(w io.Writer, f siemFile) error {
	b := batchWriters.Get().(*batchWriter)
	defer func() {
		b.bw.Reset(io.Discard) // drop the response writer before pooling
		b.lines = b.lines[:0]
		batchWriters.Put(b)
	}()
	b.bw.Reset(w)
	b.gz.Reset(b.bw)
	feed := s.siemFeed()
	mid := f.start + (f.end-f.start)/2
	trailingNewline := (f.start/feed.perFile)%2 == 0
	for i := f.start; i < f.end; i++ {
		if i == mid && f.flags&fileTruncated != 0 {
			if err := b.flushLines(); err != nil {
				return fmt.Errorf("writing truncated batch file: %w", err)
			}
			if err := b.gz.Flush(); err != nil {
				return fmt.Errorf("writing truncated batch file: %w", err)
			}
			return b.bw.Flush()
		}
		if i == mid && f.flags&fileMalformed != 0 {
			b.lines = fmt.Appendf(b.lines, "{\"_offset\":%d,\"_partition\":%d,\"type\":%q,\"subject\":\"Rechnung f\n", i, f.ti, siemTypes[f.ti])
		}
		s.fillSIEMEvent(&b.ev, feed, f.ti, i)
		b.lines = b.ev.appendTo(b.lines)
		if pad := s.opts.Sizes.SIEMLinePadBytes; pad > 0 && len(b.lines) > 0 && b.lines[len(b.lines)-1] == '}' {
			b.lines = append(b.lines[:len(b.lines)-1], `,"_pad":"`...)
			for ; pad > 0; pad -= len(padChunk) {
				b.lines = append(b.lines, padChunk[:min(pad, len(padChunk))]...)
			}
			b.lines = append(b.lines, `"}`...)
		}
		if i < f.end-1 || trailingNewline {
			b.lines = append(b.lines, '\n')
		}
		if len(b.lines) >= 32<<10 {
			if err := b.flushLines(); err != nil {
				return fmt.Errorf("writing batch file: %w", err)
			}
		}
	}
	if err := b.flushLines(); err != nil {
		return fmt.Errorf("writing batch file: %w", err)
	}
	if err := b.gz.Close(); err != nil {
		return fmt.Errorf("writing batch file: %w", err)
	}
	return b.bw.Flush()
}
