package mimecast

import (
	"net/url"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

const redacted = "[redacted]"

// The patterns catch credentials by their shape, whatever their value: JSON fields of token
// responses, form fields of token requests, Authorization header values and the signatures of
// pre-signed URLs.
var (
	jsonCredential = regexp.MustCompile(`("(?:access_token|refresh_token|id_token|client_secret)"\s*:\s*)"(?:[^"\\]|\\.)*"`)
	formCredential = regexp.MustCompile(`((?:^|[&?\s])(?:client_secret|access_token|refresh_token)=)[^&\s]*`)
	bearerValue    = regexp.MustCompile(`(?i)\b(bearer\s+)[^\s",;]+`)
	// A pre-signed URL is a credential for its file until it expires: its signature (and a
	// session token, when storage issues one) is removed wherever the URL appears, such as the
	// SIEM batch listing in a trace, where JSON writes & as \u0026.
	urlSignature = regexp.MustCompile(`(?i)((?:^|[&?;\s"]|\\u0026|&amp;)(?:x-amz-signature|x-amz-security-token|x-goog-signature|signature|sig)=)[^&\s"\\]*`)
)

// redactText removes credentials recognisable by shape.
func redactText(s string) string {
	s = jsonCredential.ReplaceAllString(s, `${1}"`+redacted+`"`)
	s = formCredential.ReplaceAllString(s, "${1}"+redacted)
	s = urlSignature.ReplaceAllString(s, "${1}"+redacted)
	return bearerValue.ReplaceAllString(s, "${1}"+redacted)
}

// redactor also removes the values the client knows to be secret: the client secret and the
// access tokens it was given, wherever they appear (a server echoing them in an error, a URL),
// whole or in part: any piece of minPartLen bytes or more of one is removed too, so that a text
// cut before it reached the redactor, or a server echoing part of a value, leaks nothing.
type redactor struct {
	mu      sync.RWMutex
	secrets []string
	parts   map[string]struct{} // every minPartLen-byte piece of every secret long enough
}

// minPartLen is the shortest piece of a secret that is redacted on its own; shorter secrets are
// redacted when they appear whole.
const minPartLen = 12

// keepTokens bounds how many past access tokens are remembered; a token lives 30 minutes, so a
// few cover any log line still being written about an old one.
const keepTokens = 4

// minSecretLen avoids redacting every occurrence of a trivially short value.
const minSecretLen = 4

func newRedactor(clientSecret string) *redactor {
	r := &redactor{}
	if len(clientSecret) >= minSecretLen {
		r.secrets = []string{clientSecret}
	}
	r.index()
	return r
}

// index rebuilds parts from secrets; mu must be held (or r not yet shared).
func (r *redactor) index() {
	r.parts = map[string]struct{}{}
	for _, s := range r.secrets {
		for i := 0; i+minPartLen <= len(s); i++ {
			r.parts[s[i:i+minPartLen]] = struct{}{}
		}
	}
}

// addToken remembers an access token; the client secret (first entry) is always kept.
func (r *redactor) addToken(tok string) {
	if len(tok) < minSecretLen {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = append(r.secrets, tok)
	if extra := len(r.secrets) - 1 - keepTokens; extra > 0 {
		r.secrets = append(r.secrets[:1], r.secrets[1+extra:]...)
	}
	r.index()
}

func (r *redactor) String(s string) string {
	s = redactText(s)
	if r == nil {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return r.redactParts(s)
}

// redactParts replaces every run of s that is a piece of minPartLen bytes or more of a secret.
// A run starts where a minPartLen-byte piece of a secret does and grows while what it covers is
// still part of one secret; the scan is linear in s for the short secrets at hand.
func (r *redactor) redactParts(s string) string {
	if len(r.parts) == 0 || len(s) < minPartLen {
		return s
	}
	var b strings.Builder
	last := 0 // s[:last] is written
	for i := 0; i+minPartLen <= len(s); {
		if _, ok := r.parts[s[i:i+minPartLen]]; !ok {
			i++
			continue
		}
		end := i + minPartLen
		for end < len(s) && r.partOfSecret(s[i:end+1]) {
			end++
		}
		b.WriteString(s[last:i])
		b.WriteString(redacted)
		last, i = end, end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func (r *redactor) partOfSecret(piece string) bool {
	for _, secret := range r.secrets {
		if strings.Contains(secret, piece) {
			return true
		}
	}
	return false
}

// apiError scrubs the server-provided parts of e in place and returns it.
func (r *redactor) apiError(e *APIError) *APIError {
	if e == nil {
		return nil
	}
	e.Body = r.String(e.Body)
	for i, m := range e.Messages {
		e.Messages[i] = r.String(m)
	}
	for i, c := range e.Codes {
		e.Codes[i] = truncate(r.String(c), snippetLen)
	}
	return e
}

// snippetLen is how much of an undecodable body an error or a trace line shows.
const snippetLen = 200

// snippet returns the start of b for an error message or a trace line: credentials removed
// first (so that a cut cannot leave half a token), then at most n bytes cut on a rune boundary.
// A nil redactor removes credentials by shape only.
func (r *redactor) snippet(b []byte, n int) string {
	// Credentials are short; redacting a bounded prefix is enough and keeps a 64 MiB body cheap.
	if len(b) > 4*n+1024 {
		b = b[:4*n+1024]
	}
	s := strings.ToValidUTF8(string(b), "?")
	if r != nil {
		s = r.String(s)
	} else {
		s = redactText(s)
	}
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// redactURL drops the query (pre-signed URLs carry their signature there) and any user info.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = redacted
	}
	u.Fragment = ""
	return u.String()
}
