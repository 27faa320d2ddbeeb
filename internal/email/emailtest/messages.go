// Package emailtest makes RFC 822 messages for the tests and benchmarks of the packages that
// parse email.
package emailtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// BigAttachmentMessage is an RFC 822 message with one base64 attachment of n bytes.
func BigAttachmentMessage(n int) []byte {
	data := bytes.Repeat([]byte{0xA5, 0x5A, 0x00, 0xFF}, n/4)
	var b bytes.Buffer
	b.WriteString("Subject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n")
	b.WriteString("--b\r\nContent-Type: application/pdf; name=big.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--b--\r\n")
	return b.Bytes()
}

// SHA256Hex is the hex SHA-256 of b, as the archive reports an attachment's hash.
func SHA256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
