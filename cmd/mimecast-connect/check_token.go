package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// tokenCheck is the outcome of one token request.
type tokenCheck struct {
	authURL  string
	lifetime time.Duration // 0 when the server gave none
	access   string        // only for the output scrubber; never printed
	err      error
	hint     string
}

// authURLOf is the token endpoint the client uses for cfg: auth_url, else <api_url>/oauth/token.
func authURLOf(cfg mimecast.Config) string {
	if cfg.AuthURL != "" {
		return cfg.AuthURL
	}
	return strings.TrimRight(cfg.APIURL, "/") + "/oauth/token"
}

// fetchToken asks the token endpoint once, as the client would (form credentials, no redirect,
// the component's TLS, proxy and timeout). The client keeps its token to itself, and the
// lifetime is what an admin wants to see, so the check makes this request on its own.
func fetchToken(ctx context.Context, cfg mimecast.Config) tokenCheck {
	tc := tokenCheck{authURL: authURLOf(cfg)}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = http.ProxyFromEnvironment
	if cfg.ProxyURL != "" {
		u, err := url.Parse(cfg.ProxyURL)
		if err != nil {
			tc.err = fmt.Errorf("parsing proxy_url: %w", err)
			return tc
		}
		transport.Proxy = http.ProxyURL(u)
	}
	if cfg.TLSConfig != nil {
		transport.TLSClientConfig = cfg.TLSConfig.Clone()
	}
	defer transport.CloseIdleConnections()
	hc := &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		// A redirect would post the client secret to another address; the client refuses it too.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	cc := clientcredentials.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: tc.authURL,
		AuthStyle: oauth2.AuthStyleInParams,
	}
	started := time.Now()
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
	if err != nil {
		tc.err, tc.hint = explainTokenError(err, cfg.Timeout)
		return tc
	}
	tc.access = tok.AccessToken
	if !tok.Expiry.IsZero() {
		tc.lifetime = tok.Expiry.Sub(started).Round(time.Second)
	}
	return tc
}

// explainTokenError turns a failed token request into an error without the response's noise
// and a hint saying what to fix.
func explainTokenError(err error, timeout time.Duration) (error, string) {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		status := re.Response.StatusCode
		msg := fmt.Sprintf("HTTP %d", status)
		if detail := tokenFailText(re); detail != "" {
			msg += " " + detail
		}
		switch {
		case status >= 300 && status <= 399:
			return errors.New(msg), "the token endpoint redirects (to " + re.Response.Header.Get("Location") + "): set api_url, or auth_url, to the address that answers (https, the region's host)"
		case status == http.StatusUnauthorized, status == http.StatusBadRequest, status == http.StatusForbidden:
			return errors.New(msg), "the credentials were refused: check client_id and client_secret of the API 2.0 application (Administration Console > Services > API and Platform Integrations)"
		case status == http.StatusNotFound:
			return errors.New(msg), "no token endpoint at this address: check api_url (and auth_url if set)"
		case status == http.StatusTooManyRequests:
			return errors.New(msg), "rate limited: try again in a minute"
		case status >= 500:
			return errors.New(msg), "Mimecast answered with a server error: try again later"
		}
		return errors.New(msg), ""
	}
	if isTimeout(err) {
		return err, fmt.Sprintf("no answer within %v (the component's timeout): check api_url, proxy_url and the network path from this machine", timeout)
	}
	var netErr net.Error
	var urlErr *url.Error
	if errors.As(err, &netErr) || errors.As(err, &urlErr) {
		return err, "could not reach the token endpoint: check api_url (and auth_url), proxy_url, tls and that this machine can reach the host"
	}
	return err, ""
}

// tokenFailText reads the refusal out of a token error body: Mimecast's {"fail":[{code,
// message}]} or OAuth2's {"error","error_description"}.
func tokenFailText(re *oauth2.RetrieveError) string {
	var body struct {
		Fail []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"fail"`
	}
	if json.Unmarshal(re.Body, &body) == nil && len(body.Fail) > 0 {
		parts := make([]string, 0, len(body.Fail))
		for _, f := range body.Fail {
			parts = append(parts, strings.TrimSpace(f.Code+": "+f.Message))
		}
		return strings.Join(parts, "; ")
	}
	if re.ErrorCode != "" {
		return strings.TrimSpace(re.ErrorCode + ": " + re.ErrorDescription)
	}
	return ""
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}
