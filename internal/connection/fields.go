// Package connection holds what every Mimecast component shares: the connection config fields,
// their parsing into a mimecast.Config, and the process-wide registry that gives every component
// naming the same (api_url, client_id) one client, so they share one token and one quota.
package connection

import (
	"fmt"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"

	// The lint rules below use parse_duration, which impl/pure registers; without this import the
	// rules fail to parse at init.
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
)

// Field names shared by mimecast_threats, mimecast_archive and mimecast_enrich.
const (
	FieldAPIURL               = "api_url"
	FieldAuthURL              = "auth_url"
	FieldClientID             = "client_id"
	FieldClientSecret         = "client_secret"
	FieldTokenExpiryOffset    = "token_expiry_offset"
	FieldPageSize             = "page_size"
	FieldRetryAfterMultiplier = "retry_after_multiplier"
	FieldMaxRetries           = "max_retries"
	FieldMaxRetryWait         = "max_retry_wait"
	FieldTimeout              = "timeout"
	FieldMaxBodyBytes         = "max_body_bytes"
	FieldTraceLevel           = "trace_level"
	FieldStatsInterval        = "stats_interval"
	FieldRateLimit            = "rate_limit"
	FieldTLS                  = "tls"
	FieldProxyURL             = "proxy_url"
	FieldMaxInFlight          = "max_in_flight"
	FieldAllowPlainDownloads  = "allow_plain_http_downloads"
)

// MaxRetryAfterMultiplier is the largest retry_after_multiplier: a larger one is a value meant
// for a collector that converts units with it, and would make every 429 a wait of minutes.
const MaxRetryAfterMultiplier = 60

const retryAfterMultiplierTooLarge = "retry_after_multiplier must be at most 60: it multiplies the wait Mimecast asks for, which is already in time units (1000, as some collectors take it to turn seconds into milliseconds, is 1 here)"

// Fields returns the connection fields, to be added to a component's spec with Fields(...).
func Fields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewURLField(FieldAPIURL).
			Description("Base URL of the Mimecast API 2.0. Use `https://us-api.services.mimecast.com` or `https://uk-api.services.mimecast.com` to keep data in that region, or the address of `mimecast-connect fake-api` for a simulated tenant.").
			Default(mimecast.DefaultAPIURL).
			Examples("https://us-api.services.mimecast.com", "http://127.0.0.1:8089"),
		service.NewURLField(FieldAuthURL).
			Description("OAuth2 token endpoint. Defaults to `<api_url>/oauth/token`.").
			Optional().Advanced(),
		service.NewStringField(FieldClientID).
			Description("Client ID of the Mimecast API 2.0 application (Administration > Services > API and Platform Integrations). Components that name the same `api_url` and `client_id` share one token, one quota and one cap on calls in flight, so `auth_url`, `client_secret`, `token_expiry_offset`, `tls`, `allow_plain_http_downloads`, `proxy_url` and `max_in_flight` must be the same in each of them; every other connection field is the component's own.").
			Example("${MIMECAST_CLIENT_ID}"),
		service.NewStringField(FieldClientSecret).
			Description("Client secret of the API 2.0 application. Never logged, and scrubbed from `echo`.").
			Example("${MIMECAST_CLIENT_SECRET}").
			Secret(),
		service.NewDurationField(FieldTokenExpiryOffset).
			Description("Added to the access token's expiry time to decide when to refresh it; negative refreshes earlier (tokens live 30 minutes).").
			Default("-60s").Advanced(),
		service.NewIntField(FieldPageSize).
			Description("Records asked for per page. Mimecast accepts up to 500 on `/api/*` lists and 100 on the SIEM and threats endpoints; larger values are capped per endpoint.").
			Default(100).
			LintRule(`root = if this < 1 || this > 500 { ["page_size must be between 1 and 500"] }`),
		service.NewFloatField(FieldRetryAfterMultiplier).
			Description("Multiplies the wait Mimecast asks for (`X-RateLimit-Reset` or `Retry-After`, on a 429 or on a 5xx such as 503). Values above 1 leave headroom for other clients of the same application. At most 60. This is a factor on a wait already in time units, not a unit conversion: collectors that take `1000` here to turn seconds into milliseconds mean `1` in this one.").
			Default(1.0).Advanced().
			LintRule(fmt.Sprintf(`root = if this < 1 { ["retry_after_multiplier must be at least 1"] } else if this > %d { [%q] }`, MaxRetryAfterMultiplier, retryAfterMultiplierTooLarge)),
		service.NewIntField(FieldMaxRetries).
			Description("Retries of a call that failed with a 5xx, a network error, a timeout or a 429, with exponential backoff and jitter, before the error is reported.").
			Default(5).Advanced().
			LintRule(`root = if this < 0 { ["max_retries must not be negative"] }`),
		service.NewDurationField(FieldMaxRetryWait).
			Description("Longest single wait between retries, whatever the server asks for.").
			Default("5m").Advanced().LintRule(LintPositiveDuration(FieldMaxRetryWait)),
		service.NewDurationField(FieldTimeout).
			Description("Timeout of one HTTP attempt (request and response headers and body).").
			Default("60s").Advanced().LintRule(LintPositiveDuration(FieldTimeout)),
		service.NewIntField(FieldMaxBodyBytes).
			Description("Largest JSON response body accepted; a larger one is an error naming the endpoint.").
			Default(64 << 20).Advanced(),
		service.NewStringAnnotatedEnumField(FieldTraceLevel, map[string]string{
			mimecast.TraceNone:  "No per-call logging.",
			mimecast.TraceCalls: "One log line per HTTP call: method, path, status and duration.",
			mimecast.TraceAll:   "As `calls`, plus request and response bodies (truncated). Secrets and tokens are redacted at every level.",
		}).Description("Per-call logging of the Mimecast client.").Default(mimecast.TraceNone).Advanced(),
		service.NewDurationField(FieldStatsInterval).
			Description("How often to log the client's totals (calls, call rate, HTTP errors, 429s). Empty or `0s` turns the log line off; the same figures are always exported as metrics.").
			Default("5m").Advanced(),
		service.NewStringField(FieldRateLimit).
			Description("A `rate_limit` resource waited on before every HTTP call, on top of the client's own pacing on Mimecast's quota headers.").
			Optional().Advanced(),
		service.NewTLSToggledField(FieldTLS).Advanced(),
		service.NewBoolField(FieldAllowPlainDownloads).
			Description("With `tls.enabled`, a pre-signed download URL (SIEM batch files) that is plain http is refused: the file is reported error-flagged and its type moves on. Set to true to download such files unencrypted anyway (warned once). Without `tls.enabled` plain http URLs are downloaded, with one warning when the API itself is https.").
			Default(false).Advanced(),
		service.NewURLField(FieldProxyURL).
			Description("An HTTP proxy for all calls. Without it the standard `HTTPS_PROXY`/`NO_PROXY` environment variables apply.").
			Optional().Advanced(),
		service.NewIntField(FieldMaxInFlight).
			Description("Most API calls of the application in flight at once, over every component that shares its client. After a 429 it drops to one call and grows back by one with each answer, so that a quota running out refuses as few calls as possible. Downloads of SIEM batch files are not API calls and do not count.").
			Default(16).Advanced().
			LintRule(`root = if this < 1 { ["max_in_flight must be at least 1"] }`),
	}
}
