package email

import (
	"bytes"
	"encoding/base64"
	"io"
	"testing"

	"github.com/mimecast-connect/mimecast-connect/internal/email/emailtest"
)

// base64Lines is data base64-encoded the way mailers send it: lines of 76 characters ending in
// CRLF.
func base64Lines(data []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(data)
	var b bytes.Buffer
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.Bytes()
}

// BenchmarkArchiveBase64Body decodes a 5 MiB attachment: the transfer decoder alone, read in the
// attachment collector's chunks, and the whole message through parseEmail (multipart reader
// included).
func BenchmarkArchiveBase64Body(b *testing.B) {
	const size = 5 << 20
	data := bytes.Repeat([]byte{0xA5, 0x5A, 0x00, 0xFF, 'x', 'y', 'z'}, size/7+1)[:size]
	body := base64Lines(data)
	b.Run("transfer_decoder", func(b *testing.B) {
		buf := make([]byte, AttachmentReadSize)
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			n, err := io.CopyBuffer(io.Discard, transferDecoder("base64", bytes.NewReader(body)), buf)
			if err != nil || n != size {
				b.Fatalf("decoded %d bytes: %v", n, err)
			}
		}
	})
	b.Run("parse_email", func(b *testing.B) {
		msg := emailtest.BigAttachmentMessage(size)
		buf := make([]byte, AttachmentReadSize)
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			var n int64
			_, err := Parse(bytes.NewReader(msg), 1<<20, func(a *Attachment) error {
				var err error
				n, err = io.CopyBuffer(io.Discard, a.Body, buf)
				return err
			})
			if err != nil || n != size {
				b.Fatalf("decoded %d bytes: %v", n, err)
			}
		}
	})
}
