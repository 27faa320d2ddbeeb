package mimecast

// APIError is every error the client returns for an HTTP exchange that did not succeed: a
// non-2xx status, a fail[] in an HTTP 200 envelope, a SIEM {"error":{...}} body, or a body that
// could not be decoded. Callers branch on its fields rather than on error strings.
type APIError struct {
	Endpoint   string   // request path, e.g. /api/ttp/url/get-logs
	StatusCode int      // HTTP status (200 for an envelope fail[])
	Codes      []string // fail codes, e.g. token_expired, app_forbidden, err_xdk_invalid_signature
	Messages   []string // fail messages, same order as Codes
	// Body is what was received, truncated to a few hundred bytes, for errors that could not be
	// decoded (an HTML error page from a proxy, an empty body). Never holds a token.
	Body      string
	Retryable bool // whether repeating the same call can help (429, 5xx, retryable fail)
	Err       error
}
