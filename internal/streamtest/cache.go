package streamtest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// FlakyCache is a memory cache whose writes fail while Down is set, as a read-only cache
// directory or an unreachable Redis does. Register it with RegisterFlakyCache.
type FlakyCache struct {
	Down atomic.Bool

	mu   sync.Mutex
	data map[string][]byte
}

// ErrCacheDown is what FlakyCache writes return while it is down.
var ErrCacheDown = errors.New("cache is read-only")

// NewFlakyCache returns an empty cache that works.
func NewFlakyCache() *FlakyCache { return &FlakyCache{data: map[string][]byte{}} }

// RegisterFlakyCache registers c in env as the cache type name, taking no fields.
func RegisterFlakyCache(env *service.Environment, name string, c *FlakyCache) error {
	return env.RegisterCache(name, service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.Cache, error) { return c, nil })
}

func (c *FlakyCache) Get(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.data[key]; ok {
		return v, nil
	}
	return nil, service.ErrKeyNotFound
}

func (c *FlakyCache) Set(_ context.Context, key string, value []byte, _ *time.Duration) error {
	if c.Down.Load() {
		return ErrCacheDown
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.data[key] = value
	return nil
}

func (c *FlakyCache) Add(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	return c.Set(ctx, key, value, ttl)
}

func (c *FlakyCache) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.data, key)
	return nil
}

func (*FlakyCache) Close(context.Context) error { return nil }
