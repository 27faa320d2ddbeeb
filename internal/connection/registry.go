package connection

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// Conn is one component's handle on a shared client. Client shares its token, quota and cap on
// calls in flight with every other component of the process that names the same api_url and
// client_id, and has the component's own settings otherwise (see mimecast.Client.With); the
// rate_limit resource is the component's own too, attached to each call's context by Context.
type Conn struct {
	Client *mimecast.Client

	key       clientKey
	entry     *entry
	mgr       *service.Resources
	rateLimit string
	once      sync.Once
}

type clientKey struct{ apiURL, clientID string }

// entry is one application's shared client: base holds the token and the quota, and each
// component's client is made from it.
type entry struct {
	base   *mimecast.Client
	shared sharedSettings
	owner  string // the component that made it, for errors
	refs   int
}

// sharedSettings are the fields that make the shared part of a client, which every component
// of one application must agree on.
type sharedSettings struct {
	secret, authURL, proxyURL, tls string
	maxInFlight                    int
	tokenExpiryOffset              time.Duration
	refusePlainDownloads           bool
}

// mismatch names the first field in which s and o differ.
func (s sharedSettings) mismatch(o sharedSettings) string {
	switch {
	case s.secret != o.secret:
		return FieldClientSecret
	case s.authURL != o.authURL:
		return FieldAuthURL
	case s.tokenExpiryOffset != o.tokenExpiryOffset:
		return FieldTokenExpiryOffset
	case s.tls != o.tls:
		return FieldTLS
	case s.proxyURL != o.proxyURL:
		return FieldProxyURL
	case s.maxInFlight != o.maxInFlight:
		return FieldMaxInFlight
	case s.refusePlainDownloads != o.refusePlainDownloads:
		return FieldAllowPlainDownloads
	}
	return ""
}

// The registry is process-wide rather than per Resources (GetOrSetGeneric is per stream
// manager): Mimecast's quota and token belong to the application, whatever the number of streams.
var (
	registryMu sync.Mutex
	registry   = map[clientKey]*entry{}
)

type rateLimitCtxKey struct{}

type rateLimitHook func(ctx context.Context) error

// waitFromContext is every shared client's Config.RateLimit: it waits on the rate_limit resource
// of the component that made the call, if it named one.
func waitFromContext(ctx context.Context) error {
	if h, ok := ctx.Value(rateLimitCtxKey{}).(rateLimitHook); ok {
		return h(ctx)
	}
	return nil
}

// Validate checks the connection fields as FromParsed does, without creating a client or
// looking up resources (for lint).
func Validate(conf *service.ParsedConfig) error {
	cfg, _, _, err := parseConfig(conf, nil)
	if err != nil {
		return err
	}
	return mimecast.ValidateConfig(cfg)
}

// FromParsed parses the connection fields of component (its type, such as mimecast_threats) and
// returns a handle on the shared client for them, creating the client on first use. Call Close
// when the component closes.
func FromParsed(conf *service.ParsedConfig, mgr *service.Resources, component string) (*Conn, error) {
	cfg, rateLimit, tlsPrint, err := parseConfig(conf, mgr)
	if err != nil {
		return nil, err
	}
	return get(cfg, tlsPrint, rateLimit, mgr, describe(component, mgr))
}

// describe names a component in an error: its type, and its label when it has one.
func describe(component string, mgr *service.Resources) string {
	if mgr != nil {
		if l := mgr.Label(); l != "" {
			return fmt.Sprintf("%s %q", component, l)
		}
	}
	return component
}

// get returns a handle on the shared client for cfg.APIURL and cfg.ClientID, creating it from cfg
// when no component holds one yet. The fields that make the shared part must be the same as
// the first component's: one application has one secret, one token endpoint, one connection.
func get(cfg mimecast.Config, tlsPrint, rateLimit string, mgr *service.Resources, component string) (*Conn, error) {
	key := clientKey{apiURL: strings.TrimRight(cfg.APIURL, "/"), clientID: cfg.ClientID}
	if cfg.AuthURL == "" {
		cfg.AuthURL = key.apiURL + "/oauth/token" // the default, spelt out for the comparison
	}
	shared := sharedSettings{
		secret: cfg.ClientSecret, authURL: cfg.AuthURL, proxyURL: cfg.ProxyURL, tls: tlsPrint,
		maxInFlight: cfg.MaxInFlight, tokenExpiryOffset: cfg.TokenExpiryOffset,
		refusePlainDownloads: cfg.RefusePlainDownloads,
	}
	cfg.RateLimit = waitFromContext
	registryMu.Lock()
	defer registryMu.Unlock()
	e, ok := registry[key]
	if ok {
		if field := e.shared.mismatch(shared); field == FieldClientSecret {
			return nil, fmt.Errorf("%s: %s and %s use client_id %q at %s with different secrets: one API application has one secret", FieldClientSecret, component, e.owner, cfg.ClientID, cfg.APIURL)
		} else if field != "" {
			return nil, fmt.Errorf("%s: %s and %s use client_id %q at %s, so they share one token and one quota, but their %s differ: give both the same %s", field, component, e.owner, cfg.ClientID, cfg.APIURL, field, field)
		}
	} else {
		base, err := mimecast.New(cfg)
		if err != nil {
			return nil, err
		}
		e = &entry{base: base, shared: shared, owner: component}
		registry[key] = e
	}
	client, err := e.base.With(cfg)
	if err != nil {
		if e.refs == 0 {
			delete(registry, key)
			e.base.Close()
		}
		return nil, err
	}
	e.refs++
	return &Conn{Client: client, key: key, entry: e, mgr: mgr, rateLimit: rateLimit}, nil
}

// Context returns ctx carrying this component's rate_limit wait. Pass it to every client call.
func (c *Conn) Context(ctx context.Context) context.Context {
	if c.rateLimit == "" {
		return ctx
	}
	name, mgr := c.rateLimit, c.mgr
	return context.WithValue(ctx, rateLimitCtxKey{}, rateLimitHook(func(ctx context.Context) error {
		return waitRateLimit(ctx, mgr, name)
	}))
}

// Close releases the handle; the last one closes the shared client. Safe to call more than once.
func (c *Conn) Close() {
	c.once.Do(func() {
		registryMu.Lock()
		defer registryMu.Unlock()
		c.Client.Close()
		e, ok := registry[c.key]
		if !ok || e != c.entry {
			return
		}
		if e.refs--; e.refs == 0 {
			delete(registry, c.key)
			e.base.Close()
		}
	})
}
