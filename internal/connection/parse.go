package connection

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// ConfigFromParsed reads the connection fields into a mimecast.Config. Logger and Metrics are
// taken from mgr; RateLimit is left to the registry (see Get), which makes it per component.
func ConfigFromParsed(conf *service.ParsedConfig, mgr *service.Resources) (mimecast.Config, string, error) {
	c, rateLimit, _, err := parseConfig(conf, mgr)
	return c, rateLimit, err
}

// parseConfig is ConfigFromParsed, plus a fingerprint of the tls field: a tls.Config cannot be
// compared, and components sharing a client must have the same one.
func parseConfig(conf *service.ParsedConfig, mgr *service.Resources) (mimecast.Config, string, string, error) {
	c, rateLimit, err := parseFields(conf, mgr)
	if err != nil {
		return c, "", "", err
	}
	var tlsPrint string
	if conf.Contains(FieldTLS) {
		raw, err := conf.FieldAny(FieldTLS)
		if err != nil {
			return c, "", "", fmt.Errorf("%s: %w", FieldTLS, err)
		}
		b, _ := json.Marshal(raw) // maps marshal in key order
		sum := sha256.Sum256(b)
		tlsPrint = hex.EncodeToString(sum[:])
	}
	return c, rateLimit, tlsPrint, nil
}

func parseFields(conf *service.ParsedConfig, mgr *service.Resources) (mimecast.Config, string, error) {
	var (
		c   mimecast.Config
		err error
	)
	apiURL, err := conf.FieldURL(FieldAPIURL)
	if err != nil {
		return c, "", err
	}
	c.APIURL = apiURL.String()
	if conf.Contains(FieldAuthURL) {
		u, err := conf.FieldURL(FieldAuthURL)
		if err != nil {
			return c, "", err
		}
		c.AuthURL = u.String()
	}
	if c.ClientID, err = conf.FieldString(FieldClientID); err != nil {
		return c, "", err
	}
	if c.ClientSecret, err = conf.FieldString(FieldClientSecret); err != nil {
		return c, "", err
	}
	if c.TokenExpiryOffset, err = conf.FieldDuration(FieldTokenExpiryOffset); err != nil {
		return c, "", err
	}
	if c.TokenExpiryOffset == 0 {
		// mimecast.Config reads 0 as "use the default"; a user's 0s means "at expiry".
		c.TokenExpiryOffset = -time.Nanosecond
	}
	if c.PageSize, err = conf.FieldInt(FieldPageSize); err != nil {
		return c, "", err
	}
	if c.PageSize < 1 || c.PageSize > 500 {
		return c, "", fmt.Errorf("%s: %d is out of range: use 1 to 500", FieldPageSize, c.PageSize)
	}
	if c.RetryAfterMultiplier, err = conf.FieldFloat(FieldRetryAfterMultiplier); err != nil {
		return c, "", err
	}
	if c.RetryAfterMultiplier < 1 {
		return c, "", fmt.Errorf("%s: %v is below 1: use 1 to wait exactly as long as Mimecast asks", FieldRetryAfterMultiplier, c.RetryAfterMultiplier)
	}
	if c.RetryAfterMultiplier > MaxRetryAfterMultiplier {
		return c, "", errors.New(retryAfterMultiplierTooLarge)
	}
	if c.MaxRetries, err = conf.FieldInt(FieldMaxRetries); err != nil {
		return c, "", err
	}
	if c.MaxRetries < 0 {
		return c, "", fmt.Errorf("%s: %d is negative: use 0 to turn retries off", FieldMaxRetries, c.MaxRetries)
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = -1 // mimecast.Config: 0 means the default, -1 none
	}
	if c.MaxRetryWait, err = positiveDurationField(conf, FieldMaxRetryWait); err != nil {
		return c, "", err
	}
	if c.Timeout, err = positiveDurationField(conf, FieldTimeout); err != nil {
		return c, "", err
	}
	maxBody, err := conf.FieldInt(FieldMaxBodyBytes)
	if err != nil {
		return c, "", err
	}
	if maxBody < 1024 {
		return c, "", fmt.Errorf("%s: %d is too small: use at least 1024", FieldMaxBodyBytes, maxBody)
	}
	c.MaxBodyBytes = int64(maxBody)
	if c.TraceLevel, err = conf.FieldString(FieldTraceLevel); err != nil {
		return c, "", err
	}
	if s, _ := conf.FieldString(FieldStatsInterval); s != "" {
		if c.StatsInterval, err = conf.FieldDuration(FieldStatsInterval); err != nil {
			return c, "", err
		}
	}
	tlsConf, tlsOn, err := conf.FieldTLSToggled(FieldTLS)
	if err != nil {
		return c, "", fmt.Errorf("%s: %w", FieldTLS, err)
	}
	allowPlain, err := conf.FieldBool(FieldAllowPlainDownloads)
	if err != nil {
		return c, "", err
	}
	c.RefusePlainDownloads = tlsOn && !allowPlain
	if tlsOn {
		c.TLSConfig = tlsConf
		if tlsConf.InsecureSkipVerify && mgr != nil {
			mgr.Logger().Warnf("%s.skip_cert_verify is on: the Mimecast server's certificate is not checked, so the client secret can be stolen by anyone on the path", FieldTLS)
		}
	}
	if conf.Contains(FieldProxyURL) {
		u, err := conf.FieldURL(FieldProxyURL)
		if err != nil {
			return c, "", err
		}
		c.ProxyURL = u.String()
	}
	if c.MaxInFlight, err = conf.FieldInt(FieldMaxInFlight); err != nil {
		return c, "", err
	}
	if c.MaxInFlight < 1 {
		return c, "", fmt.Errorf("%s: %d is below 1: use 1 for one call at a time", FieldMaxInFlight, c.MaxInFlight)
	}
	var rateLimit string
	if conf.Contains(FieldRateLimit) {
		if rateLimit, err = conf.FieldString(FieldRateLimit); err != nil {
			return c, "", err
		}
		if rateLimit != "" && mgr != nil && !mgr.HasRateLimit(rateLimit) {
			return c, "", fmt.Errorf("%s: rate_limit resource %q is not defined: add it under rate_limit_resources or pass its file with -r", FieldRateLimit, rateLimit)
		}
	}
	if mgr != nil {
		c.Logger = mgr.Logger()
		c.Metrics = newMetrics(mgr.Metrics())
	}
	return c, rateLimit, nil
}

func positiveDurationField(conf *service.ParsedConfig, name string) (time.Duration, error) {
	d, err := conf.FieldDuration(name)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s: %v is not positive: use a duration such as 30s", name, d)
	}
	return d, nil
}

// waitRateLimit blocks until the named rate_limit resource allows a call, as Benthos' own
// http_client does (internal/httpclient/client.go waitForAccess).
func waitRateLimit(ctx context.Context, mgr *service.Resources, name string) error {
	for {
		var (
			wait  time.Duration
			rlErr error
		)
		if err := mgr.AccessRateLimit(ctx, name, func(rl service.RateLimit) { wait, rlErr = rl.Access(ctx) }); err != nil {
			return fmt.Errorf("accessing rate_limit %q: %w", name, err)
		}
		if rlErr != nil {
			return fmt.Errorf("waiting on rate_limit %q: %w", name, rlErr)
		}
		if wait <= 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}
