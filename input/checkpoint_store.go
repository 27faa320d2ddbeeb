package input

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// kvStore keeps the inputs' small checkpoint documents under flat keys: in a cache resource when
// one is configured, in process memory otherwise (so a missing cache costs a re-read after a
// restart, never a failure). Keys must stay flat: the file cache turns them into file names.
type kvStore struct {
	mgr       *service.Resources
	cacheName string

	mu     sync.Mutex
	memory map[string][]byte
}

func newKVStore(mgr *service.Resources, cacheName string) *kvStore {
	return &kvStore{mgr: mgr, cacheName: cacheName, memory: map[string][]byte{}}
}

// get returns the value under key, and false when there is none.
func (s *kvStore) get(ctx context.Context, key string) ([]byte, bool, error) {
	if s.cacheName == "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		raw, ok := s.memory[key]
		return raw, ok && raw != nil, nil
	}
	var (
		raw    []byte
		getErr error
	)
	if err := s.mgr.AccessCache(ctx, s.cacheName, func(cache service.Cache) { raw, getErr = cache.Get(ctx, key) }); err != nil {
		return nil, false, fmt.Errorf("accessing checkpoint cache %q: %w", s.cacheName, err)
	}
	if errors.Is(getErr, service.ErrKeyNotFound) {
		return nil, false, nil
	}
	if getErr != nil {
		return nil, false, fmt.Errorf("reading checkpoint %q: %w", key, getErr)
	}
	return raw, raw != nil, nil
}

// set writes raw under key.
func (s *kvStore) set(ctx context.Context, key string, raw []byte) error {
	if s.cacheName == "" {
		s.mu.Lock()
		s.memory[key] = raw
		s.mu.Unlock()
		return nil
	}
	var setErr error
	if err := s.mgr.AccessCache(ctx, s.cacheName, func(cache service.Cache) { setErr = cache.Set(ctx, key, raw, nil) }); err != nil {
		return fmt.Errorf("accessing checkpoint cache %q: %w", s.cacheName, err)
	}
	if setErr != nil {
		return fmt.Errorf("writing checkpoint %q: %w", key, setErr)
	}
	return nil
}

// delete removes key; a key that is not there is not an error (caches differ on reporting it).
func (s *kvStore) delete(ctx context.Context, key string) error {
	if s.cacheName == "" {
		s.mu.Lock()
		delete(s.memory, key)
		s.mu.Unlock()
		return nil
	}
	var delErr error
	if err := s.mgr.AccessCache(ctx, s.cacheName, func(cache service.Cache) { delErr = cache.Delete(ctx, key) }); err != nil {
		return fmt.Errorf("accessing checkpoint cache %q: %w", s.cacheName, err)
	}
	if delErr != nil && !errors.Is(delErr, service.ErrKeyNotFound) {
		return fmt.Errorf("deleting checkpoint %q: %w", key, delErr)
	}
	return nil
}
