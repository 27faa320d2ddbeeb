package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"sync"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Store keeps the inputs' small checkpoint documents under flat keys: in a cache resource when
// one is configured, in process memory otherwise (so a missing cache costs a re-read after a
// restart, never a failure). Keys must stay flat: the file cache turns them into file names.
//
// A write to the cache must survive a crash in its middle. Benthos' file cache truncates the
// file and then writes it (ifs.WriteFile), so a SIGKILL between the two leaves an empty
// checkpoint; the crash test (cmd/crashtest) hit that after most of its kills, and the source
// then started over at its lookback. So a value is written twice, each copy framed with its
// length and a checksum: first to <key>.new, then to <key>, and then <key>.new is deleted. A
// crash spoils at most the copy being written: get returns <key>.new when it is intact (it is
// only ever newer than <key>), else <key>. At rest a key has one file, as before.
type Store struct {
	mgr       *service.Resources
	cacheName string

	mu     sync.Mutex
	memory map[string][]byte
}

func NewStore(mgr *service.Resources, cacheName string) *Store {
	return &Store{mgr: mgr, cacheName: cacheName, memory: map[string][]byte{}}
}

// pendingSuffix names the copy written first.
const pendingSuffix = ".new"

// get returns the value under key, and false when there is none. A key whose copies are all
// damaged returns an empty value, so the caller's decoding reports the damage.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if s.cacheName == "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		raw, ok := s.memory[key]
		return raw, ok && raw != nil, nil
	}
	pending, ok, err := s.cacheGet(ctx, key+pendingSuffix)
	if err != nil {
		return nil, false, err
	}
	if ok {
		if v, intact := unframe(pending); intact {
			return v, true, nil
		}
	}
	raw, ok, err := s.cacheGet(ctx, key)
	if err != nil || !ok {
		return nil, false, err
	}
	if v, intact := unframe(raw); intact {
		return v, true, nil
	}
	return []byte{}, true, nil
}

// set writes raw under key.
func (s *Store) Set(ctx context.Context, key string, raw []byte) error {
	if s.cacheName == "" {
		s.mu.Lock()
		s.memory[key] = raw
		s.mu.Unlock()
		return nil
	}
	framed := frame(raw)
	if err := s.cacheSet(ctx, key+pendingSuffix, framed); err != nil {
		return err
	}
	if err := s.cacheSet(ctx, key, framed); err != nil {
		return err
	}
	// A pending copy left behind costs a file, not correctness: it holds the same value, and
	// the next save overwrites it first.
	_ = s.cacheDelete(ctx, key+pendingSuffix)
	return nil
}

// delete removes key; a key that is not there is not an error (caches differ on reporting it).
func (s *Store) Delete(ctx context.Context, key string) error {
	if s.cacheName == "" {
		s.mu.Lock()
		delete(s.memory, key)
		s.mu.Unlock()
		return nil
	}
	if err := s.cacheDelete(ctx, key+pendingSuffix); err != nil {
		return err
	}
	return s.cacheDelete(ctx, key)
}

// frameMagic starts every stored value: "mcv1 <length> <crc32>\n" and then the value.
const frameMagic = "mcv1 "

func frame(raw []byte) []byte {
	head := fmt.Sprintf("%s%d %08x\n", frameMagic, len(raw), crc32.ChecksumIEEE(raw))
	return append([]byte(head), raw...)
}

// unframe returns the value of a stored copy, and false when the copy is damaged: empty, cut
// short, or failing its checksum. A value without a frame was written by an older release
// (checkpoints are JSON objects, which never start like a frame) and is returned as it is.
func unframe(b []byte) ([]byte, bool) {
	if len(b) == 0 {
		return nil, false
	}
	rest, framed := bytes.CutPrefix(b, []byte(frameMagic))
	if !framed {
		if bytes.HasPrefix([]byte(frameMagic), b) {
			return nil, false // cut inside the magic itself
		}
		return b, true
	}
	head, payload, ok := bytes.Cut(rest, []byte("\n"))
	if !ok {
		return nil, false
	}
	var (
		length int
		sum    uint32
	)
	if n, err := fmt.Sscanf(string(head), "%d %08x", &length, &sum); err != nil || n != 2 {
		return nil, false
	}
	if len(payload) != length || crc32.ChecksumIEEE(payload) != sum {
		return nil, false
	}
	return payload, true
}

func (s *Store) cacheGet(ctx context.Context, key string) ([]byte, bool, error) {
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

func (s *Store) cacheSet(ctx context.Context, key string, raw []byte) error {
	var setErr error
	if err := s.mgr.AccessCache(ctx, s.cacheName, func(cache service.Cache) { setErr = cache.Set(ctx, key, raw, nil) }); err != nil {
		return fmt.Errorf("accessing checkpoint cache %q: %w", s.cacheName, err)
	}
	if setErr != nil {
		return fmt.Errorf("writing checkpoint %q: %w", key, setErr)
	}
	return nil
}

func (s *Store) cacheDelete(ctx context.Context, key string) error {
	var delErr error
	if err := s.mgr.AccessCache(ctx, s.cacheName, func(cache service.Cache) { delErr = cache.Delete(ctx, key) }); err != nil {
		return fmt.Errorf("accessing checkpoint cache %q: %w", s.cacheName, err)
	}
	// The file cache reports a missing file as the os error rather than ErrKeyNotFound.
	if delErr != nil && !errors.Is(delErr, service.ErrKeyNotFound) && !errors.Is(delErr, fs.ErrNotExist) {
		return fmt.Errorf("deleting checkpoint %q: %w", key, delErr)
	}
	return nil
}
