package connection

import (
	"context"
	"fmt"
	"sync"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// Conn is one component's handle on a shared client. Client is shared with every other component
// of the process that names the same api_url and client_id; the rate_limit resource is the
// component's own, attached to each call's context by Context.
type Conn struct {
	Client *mimecast.Client

	key       clientKey
	mgr       *service.Resources
	rateLimit string
	once      sync.Once
}

type clientKey struct{ apiURL, clientID string }

type entry struct {
	client *mimecast.Client
	secret string
	refs   int
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

// FromParsed parses the connection fields and returns a handle on the shared client for them,
// creating the client on first use. Call Close when the component closes.
func FromParsed(conf *service.ParsedConfig, mgr *service.Resources) (*Conn, error) {
	cfg, rateLimit, err := ConfigFromParsed(conf, mgr)
	if err != nil {
		return nil, err
	}
	return Get(cfg, rateLimit, mgr)
}

// Get returns a handle on the shared client for cfg.APIURL and cfg.ClientID, creating it from cfg
// when no component holds one yet. A second component with the same client_id but another secret
// is a configuration error: one application has one secret.
func Get(cfg mimecast.Config, rateLimit string, mgr *service.Resources) (*Conn, error) {
	key := clientKey{apiURL: cfg.APIURL, clientID: cfg.ClientID}
	registryMu.Lock()
	defer registryMu.Unlock()
	e, ok := registry[key]
	if ok && e.secret != cfg.ClientSecret {
		return nil, fmt.Errorf("%s: another component uses client_id %q at %s with a different secret: one API application has one secret", FieldClientSecret, cfg.ClientID, cfg.APIURL)
	}
	if !ok {
		cfg.RateLimit = waitFromContext
		client, err := mimecast.New(cfg)
		if err != nil {
			return nil, err
		}
		e = &entry{client: client, secret: cfg.ClientSecret}
		registry[key] = e
	}
	e.refs++
	return &Conn{Client: e.client, key: key, mgr: mgr, rateLimit: rateLimit}, nil
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
		e, ok := registry[c.key]
		if !ok || e.client != c.Client {
			return
		}
		if e.refs--; e.refs == 0 {
			delete(registry, c.key)
			e.client.Close()
		}
	})
}
