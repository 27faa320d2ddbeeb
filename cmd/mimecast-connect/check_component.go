package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"gopkg.in/yaml.v3"

	"github.com/mimecast-connect/mimecast-connect/internal/connection"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/threats"
)

// Results of one check.
const (
	resultOK        = "ok"
	resultForbidden = "forbidden"
	resultFailed    = "failed"
)

// lintComponent lints the block with the component's own spec, as `lint` and `run` would:
// an unknown feed or lookup is reported there rather than silently not checked.
func lintComponent(c foundComponent) []string {
	wrapper := map[string]any{c.kind: c.config}
	if c.config == nil {
		wrapper[c.kind] = map[string]any{}
	}
	raw, err := yaml.Marshal(wrapper)
	if err != nil {
		return []string{err.Error()}
	}
	linter := service.GlobalEnvironment().NewComponentConfigLinter().SetSkipEnvVarCheck(true)
	var lints []service.Lint
	if checkedComponents[c.kind].benthosKind == "input" {
		lints, err = linter.LintInputYAML(raw)
	} else {
		lints, err = linter.LintProcessorYAML(raw)
	}
	if err != nil {
		return []string{err.Error()}
	}
	out := make([]string, 0, len(lints))
	for _, l := range lints {
		out = append(out, l.What)
	}
	return out
}

// componentCheck is everything check needs to know to test one component.
type componentCheck struct {
	found      foundComponent
	display    string
	rateLimits []string
	caches     []string
	now        func() time.Time
}

// run checks one component: its config, a token, then one call per endpoint its features need.
// The client is the component's connection with page size 1, no retries and no rate_limit
// hook, built for the check alone: nothing is shared with, or cached for, a running pipeline.
func (cc componentCheck) run(ctx context.Context) componentReport {
	rep := componentReport{Path: cc.display, Kind: cc.found.kind, Label: cc.found.label}
	if lints := lintComponent(cc.found); len(lints) > 0 {
		rep.Checks = append(rep.Checks, checkRow{
			Feature: "config", Result: resultFailed, Error: strings.Join(lints, "; "),
			Hint: "fix the config: `run` refuses to start with lint errors",
		})
		// The rest would test a config that cannot start.
		return rep
	}
	for _, missing := range cc.found.undefinedResources(cc.caches, cc.rateLimits) {
		if missing.kind != "cache" {
			continue // the connection's parse below says it
		}
		rep.Checks = append(rep.Checks, checkRow{
			Feature: "config", Result: resultFailed, Error: missing.msg,
			Hint: "`run` refuses to start without it (check never opens caches)",
		})
	}
	cfg, probes, siemTypes, err := cc.parse()
	if err != nil {
		rep.Checks = append(rep.Checks, checkRow{Feature: "config", Result: resultFailed, Error: err.Error()})
		return rep
	}
	rep.APIURL, rep.ClientID = cfg.APIURL, cfg.ClientID

	tokenCtx, cancel := context.WithTimeout(ctx, callBudget(cfg.Timeout))
	tok := fetchToken(tokenCtx, cfg)
	cancel()
	rep.secrets = append(rep.secrets, cfg.ClientSecret, tok.access)
	tokenRow := checkRow{Feature: "token", Method: http.MethodPost, Endpoint: tok.authURL, Result: resultOK}
	if tok.err != nil {
		tokenRow.Result, tokenRow.Error, tokenRow.Hint = resultFailed, tok.err.Error(), tok.hint
		rep.Checks = append(rep.Checks, tokenRow)
		for _, p := range probes {
			rep.Checks = append(rep.Checks, checkRow{
				Feature: strings.Join(p.features, ", "), Method: methodOf(p.endpoint), Endpoint: p.endpoint,
				Result: resultFailed, Hint: "not checked: no token",
			})
		}
		return rep
	}
	tokenRow.Hint = tokenLifetimeHint(tok.lifetime, cfg.TokenExpiryOffset)
	if cfg.TLSConfig != nil && cfg.TLSConfig.InsecureSkipVerify {
		tokenRow.Hint += "; tls.skip_cert_verify is on: the server's certificate is not checked, so the secret can be stolen on the path"
	}
	if tok.lifetime > 0 {
		secs := int64(tok.lifetime / time.Second)
		tokenRow.TokenLifetimeSeconds = &secs
	}
	rep.Checks = append(rep.Checks, tokenRow)

	cfg.PageSize, cfg.MaxRetries, cfg.StatsInterval, cfg.RateLimit = 1, -1, 0, nil
	cfg.Logger, cfg.Metrics = nil, nil
	client, err := mimecast.New(cfg)
	if err != nil {
		rep.Checks = append(rep.Checks, checkRow{Feature: "config", Result: resultFailed, Error: err.Error()})
		return rep
	}
	defer client.Close()
	st := &probeState{now: cc.now()}
	if len(siemTypes) > 0 {
		st.siemType = siemTypes[0]
	}
	for _, p := range probes {
		callCtx, cancel := context.WithTimeout(ctx, callBudget(cfg.Timeout))
		note, err := callProbe(callCtx, client, p.endpoint, st)
		cancel()
		rep.Checks = append(rep.Checks, probeRow(p, note, err, cfg.Timeout))
	}
	return rep
}

// callBudget bounds one check call: a token request and the call itself, each within the
// component's timeout, so that an unreachable host cannot hang the check.
func callBudget(timeout time.Duration) time.Duration { return 2*timeout + time.Second }

// parse reads the block with the component's own spec (and so its defaults): the connection,
// the calls its features make, one per endpoint, and the SIEM types of a threats block.
func (cc componentCheck) parse() (mimecast.Config, []probe, []string, error) {
	comp := checkedComponents[cc.found.kind]
	raw, err := cc.found.configYAML()
	if err != nil {
		return mimecast.Config{}, nil, nil, err
	}
	conf, err := comp.spec().ParseYAML(string(raw), nil)
	if err != nil {
		return mimecast.Config{}, nil, nil, fmt.Errorf("parsing the %s block: %w", cc.found.kind, err)
	}
	var opts []service.MockResourcesOptFn
	for _, name := range cc.rateLimits {
		opts = append(opts, service.MockResourcesOptAddRateLimit(name, func(context.Context) (time.Duration, error) { return 0, nil }))
	}
	cfg, _, err := connection.ConfigFromParsed(conf, service.MockResources(opts...))
	if err != nil {
		return mimecast.Config{}, nil, nil, err
	}
	// What building the client refuses at start-up (an empty client_id, say), check refuses too.
	if err := mimecast.ValidateConfig(cfg); err != nil {
		return mimecast.Config{}, nil, nil, err
	}
	calls, err := comp.calls(conf)
	if err != nil {
		return mimecast.Config{}, nil, nil, err
	}
	var siemTypes []string
	if cc.found.kind == kindThreats {
		if siemTypes, err = threats.SIEMTypes(conf); err != nil {
			return mimecast.Config{}, nil, nil, err
		}
	}
	return cfg, groupCalls(calls), siemTypes, nil
}

// tokenLifetimeHint reports the token's lifetime, and warns when token_expiry_offset would
// leave no time to use it.
func tokenLifetimeHint(lifetime, offset time.Duration) string {
	if lifetime <= 0 {
		return "token issued without a lifetime: the client uses it until Mimecast refuses it"
	}
	h := "token valid for " + lifetime.String()
	if lifetime+offset <= 0 {
		h += fmt.Sprintf("; token_expiry_offset %v leaves no time to use it: every call would fetch a new token", offset)
	}
	return h
}

// methodOf is the HTTP method of an endpoint: the REST-style ones are GETs, /api/* are POSTs.
func methodOf(endpoint string) string {
	if strings.HasPrefix(endpoint, "/api/") {
		return http.MethodPost
	}
	return http.MethodGet
}

// probeRow classifies one call's outcome.
func probeRow(p probe, note string, err error, timeout time.Duration) checkRow {
	row := checkRow{Feature: strings.Join(p.features, ", "), Method: methodOf(p.endpoint), Endpoint: p.endpoint, Result: resultOK, Hint: note}
	if err == nil {
		return row
	}
	row.Result, row.Error, row.Hint = resultFailed, err.Error(), ""
	var apiErr *mimecast.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.Forbidden():
		perm := endpointPermissions[p.endpoint]
		row.Result, row.Hint, row.Product, row.Permission = resultForbidden, forbiddenHint(p.endpoint), perm.Product, perm.Role
	case isTimeout(err):
		row.Hint = fmt.Sprintf("no answer within %v (the component's timeout): check api_url, proxy_url and the network path, or raise timeout", timeout)
	case errors.As(err, &apiErr) && apiErr.Unauthorized():
		row.Hint = "Mimecast refused the token for this call: check that the API application is enabled and its credentials current"
	case errors.As(err, &apiErr) && apiErr.RateLimited():
		row.Hint = "rate limited: the application's quota is spent (a running pipeline shares it); try again in a minute"
	case errors.As(err, &apiErr) && apiErr.NotFound():
		row.Hint = "no such endpoint at api_url: check the host (global, us- or uk-api)"
	case errors.As(err, &apiErr) && apiErr.StatusCode == 0:
		row.Hint = "could not reach api_url: check it, proxy_url, tls and the network path"
	case errors.As(err, &apiErr) && apiErr.StatusCode >= 500:
		row.Hint = "Mimecast answered with a server error: try again later"
	}
	return row
}
