package mimecastfake

import "time"

// Faults are the misbehaviours of real tenants, settable at construction (Options.Faults), at
// run time (Server.SetFaults) and from fake-api flags. Counts apply to the next N matching
// requests and count down; a zero value injects nothing.
type Faults struct {
	RateLimitBurst       int           // next N API calls get 429
	RateLimitHeaders     string        // on those 429s: "reset" (X-RateLimit-Reset ms), "retry_after", "both" or "none"; default "reset"
	RateLimitResetMs     int           // value of X-RateLimit-Reset / basis of Retry-After; default 1000
	ServerErrors         int           // next N API calls get a 5xx
	ServerErrorFor       time.Duration // every API call gets a 5xx until this much time has passed since SetFaults
	ExpireTokens         int           // next N API calls get 401 token_expired, and the token is revoked
	UnverifiedTokens     int           // next N API calls get a transient 401 (token_verification_failed, then "Unauthorized Request", alternating); the token stays valid
	SlowResponses        int           // next N API calls are delayed by SlowBy
	SlowBy               time.Duration // default 2s
	TokenEndpointDown    int           // next N token requests get 503
	HTMLErrorPages       int           // next N API calls get an HTML error page, as a proxy would
	HTMLErrorStatus      int           // the status of those pages; default 502
	FailWith200          int           // next N /api/* calls get HTTP 200 with a fail[] entry
	ResetMidBody         int           // next N responses are cut off mid-body (connection closed)
	TruncatedGzip        int           // next N SIEM batch files are cut mid-stream
	MalformedLines       int           // next N SIEM batch files carry one malformed JSON line
	DuplicateURLs        int           // next N SIEM listing pages repeat one URL
	ExpiredURLs          int           // next N SIEM listing pages carry URLs that are already expired
	DuplicateAcrossPages int           // next N paged /api/* lists repeat the previous page's last record
	RefusePageTokens     int           // next N follow-up list pages (archive searches too) are refused: HTTP 400 err_invalid_page_token
	PageCycles           int           // next N follow-up list pages (SIEM listings and archive searches too) carry a next token pointing back at the page before
	SIEMStalls           int           // next N follow-up SIEM listing pages with files come again as they were: @nextPage is the token asked with, isCaughtUp false
	// LateIndexBy makes every other record of the time-filtered lists (TTP logs, held lists,
	// threat events) appear this long after its own time, as records Mimecast indexes late do:
	// a walk that starts before then does not list it.
	LateIndexBy time.Duration
	// ListOrder overrides the order of time-filtered list pages (TTP logs, held lists, threat
	// events; archive searches oldest first or shuffled): "" serves what the request asks, ListOrderNewest and ListOrderOldest serve that
	// order whatever it asks, ListOrderShuffled also shuffles the records within each page.
	ListOrder string
	// ArchiveReportedSize makes every archive search hit report this size, whatever its email
	// holds, as a search that lies about sizes would; 0 reports the real size.
	ArchiveReportedSize int
}

// Values of Faults.ListOrder.
const (
	ListOrderNewest   = "newest"
	ListOrderOldest   = "oldest"
	ListOrderShuffled = "shuffled"
)
