package enrich

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// cacheKey is the cache key of a result. The lookups are part of it, so two processors with
// different lookups can share a cache; the hash keeps characters of Message-IDs ('/', '<', '>')
// out of the key, which a file cache turns into a file name.
func (p *enrichProcessor) cacheKey(id string) string {
	sum := sha256.Sum256([]byte(p.cfg.lookups.String() + "\n" + id))
	return "mimecast_enrich_" + hex.EncodeToString(sum[:])
}

// initCache makes the first access to the cache resource alone. Benthos v4.60.0 builds a cache
// resource lazily on first access, under a read lock (internal/manager/live_resources.go RAccess),
// so two pipeline threads that both touch it first race on the result.
func (p *enrichProcessor) initCache(ctx context.Context) {
	p.cacheInit.Do(func() {
		_ = p.mgr.AccessCache(ctx, p.cfg.cacheName, func(service.Cache) {})
	})
}

// cachedResult returns the cached result of id, or nil. As in Benthos' `cached` processor the
// cache is an optimisation: a failed or unreadable read is logged and counted, and the lookup
// goes to Mimecast instead of failing the event.
func (p *enrichProcessor) cachedResult(ctx context.Context, id string) []byte {
	p.initCache(ctx)
	var (
		raw  []byte
		gErr error
	)
	if err := p.mgr.AccessCache(ctx, p.cfg.cacheName, func(c service.Cache) { raw, gErr = c.Get(ctx, p.cacheKey(id)) }); err != nil {
		gErr = err
	}
	switch {
	case errors.Is(gErr, service.ErrKeyNotFound):
		p.metrics.cacheMisses.Incr(1)
		return nil
	case gErr != nil:
		p.metrics.cacheMisses.Incr(1)
		p.metrics.cacheErrors.Incr(1)
		p.log.Errorf("reading the result of %s from cache %q, looking it up instead: %v", id, p.cfg.cacheName, gErr)
		return nil
	case !json.Valid(raw):
		p.metrics.cacheMisses.Incr(1)
		p.metrics.cacheErrors.Incr(1)
		p.log.Errorf("cache %q holds something other than a mimecast_enrich result for %s: looking it up instead", p.cfg.cacheName, id)
		return nil
	}
	p.metrics.cacheHits.Incr(1)
	return raw
}

// storeResult writes a result to the cache for ttl (nil: the cache's default). A failure is
// logged, not fatal: the event already has its result.
func (p *enrichProcessor) storeResult(ctx context.Context, id string, raw []byte, ttl *time.Duration) {
	var sErr error
	if err := p.mgr.AccessCache(ctx, p.cfg.cacheName, func(c service.Cache) { sErr = c.Set(ctx, p.cacheKey(id), raw, ttl) }); err != nil {
		sErr = err
	}
	if sErr != nil {
		p.metrics.cacheErrors.Incr(1)
		p.log.Errorf("writing the result of %s to cache %q: %v", id, p.cfg.cacheName, sErr)
	}
}
