package mimecastfake

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"
)

// optionsFromArgs parses args with CLIFlags the way the fake-api command does.
func optionsFromArgs(t *testing.T, args ...string) (Options, string, error) {
	t.Helper()
	var opts Options
	var addr string
	app := &cli.App{
		Name: "fake-api", Flags: CLIFlags(), Writer: io.Discard, ErrWriter: io.Discard,
		Action: func(c *cli.Context) error {
			var err error
			opts, err = OptionsFromCLI(c)
			addr = c.String(FlagAddr)
			return err
		},
	}
	err := app.RunContext(t.Context(), append([]string{"fake-api"}, args...))
	return opts, addr, err
}

func TestFlagDefaultsMatchOptionDefaults(t *testing.T) {
	opts, addr, err := optionsFromArgs(t)
	require.NoError(t, err)
	assert.Equal(t, DefaultAddr, addr)
	assert.Equal(t, int64(1), opts.Seed)
	require.Len(t, opts.Clients, 1)
	assert.Equal(t, DefaultClientID, opts.Clients[0].ID)
	assert.Equal(t, DefaultClientSecret, opts.Clients[0].Secret)
	assert.Nil(t, opts.Clients[0].Products, "all products")

	fromFlags := opts.withDefaults()
	zero := Options{Seed: 1, Now: fromFlags.Now, Anchor: fromFlags.Anchor}.withDefaults()
	fromFlags.Now, zero.Now = nil, nil
	assert.Equal(t, zero, fromFlags)
}

func TestFlagsSetEveryKnob(t *testing.T) {
	opts, addr, err := optionsFromArgs(t,
		"--addr", "127.0.0.1:9999", "--seed", "42", "--anchor", "2025-01-02T03:04:00Z", "--threats-shape", "events",
		"--client-id", "id", "--client-secret", "secret", "--products", "siem,threats", "--products", "archive",
		"--token-ttl", "5m", "--quota-limit", "10", "--quota-window", "15m", "--quota-headers-always", "--quota-retry-after",
		"--domains", "4", "--local-domains", "2", "--users-per-domain", "7", "--messages-per-mailbox", "11",
		"--attachment-bytes", "4096", "--large-attachment-pct", "5", "--events-per-feed", "1000",
		"--live-events-per-hour", "30", "--span", "24h", "--siem-batch-window", "30s",
		"--fault-rate-limit-burst", "1", "--fault-rate-limit-headers", "both", "--fault-rate-limit-reset-ms", "1500",
		"--fault-server-errors", "2", "--fault-server-error-for", "1m", "--fault-expire-tokens", "3",
		"--fault-slow-responses", "4", "--fault-slow-by", "3s", "--fault-token-endpoint-down", "5",
		"--fault-html-error-pages", "6", "--fault-fail-with-200", "7", "--fault-reset-mid-body", "8",
		"--fault-truncated-gzip", "9", "--fault-malformed-lines", "10", "--fault-duplicate-urls", "11",
		"--fault-expired-urls", "12", "--fault-duplicate-across-pages", "13",
	)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9999", addr)
	assert.Equal(t, Options{
		Seed:         42,
		Clients:      []ClientApp{{ID: "id", Secret: "secret", Products: []string{ProductSIEM, ProductThreats, ProductArchive}}},
		TokenTTL:     5 * time.Minute,
		Quota:        Quota{Limit: 10, Window: 15 * time.Minute, HeadersAlways: true, RetryAfter: true},
		Anchor:       time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC),
		ThreatsShape: ThreatsShapeEvents,
		Sizes: Sizes{Domains: 4, LocalDomains: 2, UsersPerDomain: 7, MessagesPerMailbox: 11, AttachmentBytes: 4096,
			LargeAttachmentPct: 5, EventsPerFeed: 1000, LiveEventsPerHour: 30, Span: 24 * time.Hour,
			SIEMBatchWindow: 30 * time.Second},
		Faults: Faults{RateLimitBurst: 1, RateLimitHeaders: RateLimitHeadersBoth, RateLimitResetMs: 1500, ServerErrors: 2,
			ServerErrorFor: time.Minute, ExpireTokens: 3, SlowResponses: 4, SlowBy: 3 * time.Second, TokenEndpointDown: 5,
			HTMLErrorPages: 6, FailWith200: 7, ResetMidBody: 8, TruncatedGzip: 9, MalformedLines: 10, DuplicateURLs: 11,
			ExpiredURLs: 12, DuplicateAcrossPages: 13},
	}, opts)
}

func TestFlagsRejectValuesNewWouldHaveToGuess(t *testing.T) {
	for name, args := range map[string][]string{
		"negative count":    {"--fault-server-errors", "-1"},
		"negative duration": {"--token-ttl", "-5m"},
		"unknown product":   {"--products", "coffee"},
		"headers variant":   {"--fault-rate-limit-headers", "sometimes"},
		"threats shape":     {"--threats-shape", "xml"},
		"anchor":            {"--anchor", "tomorrow"},
		"percent":           {"--large-attachment-pct", "150"},
		"empty secret":      {"--client-secret", ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := optionsFromArgs(t, args...)
			assert.Error(t, err)
		})
	}
}
