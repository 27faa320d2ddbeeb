package componentdocs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Drift lists how a docs directory differs from freshly generated pages.
// Paths are slash-separated and relative to the docs directory.
type Drift struct {
	Changed []string // on disk, with different content
	Missing []string // generated, not on disk
	Stale   []string // generated earlier (carries the marker), no longer produced
}

// Empty reports whether the directory matches the generated pages exactly.
func (d Drift) Empty() bool {
	return len(d.Changed) == 0 && len(d.Missing) == 0 && len(d.Stale) == 0
}

func (d Drift) String() string {
	var b strings.Builder
	for _, group := range []struct {
		label string
		paths []string
	}{{"changed", d.Changed}, {"missing", d.Missing}, {"stale", d.Stale}} {
		for _, p := range group.paths {
			fmt.Fprintf(&b, "  %s: %s\n", group.label, p)
		}
	}
	return b.String()
}

// Check compares dir with files without touching anything.
func Check(dir string, files map[string][]byte) (Drift, error) {
	var d Drift
	for _, rel := range sortedKeys(files) {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			d.Missing = append(d.Missing, rel)
		case err != nil:
			return Drift{}, fmt.Errorf("reading %s: %w", rel, err)
		case !bytes.Equal(got, files[rel]):
			d.Changed = append(d.Changed, rel)
		}
	}
	stale, err := stalePages(dir, files)
	if err != nil {
		return Drift{}, err
	}
	d.Stale = stale
	return d, nil
}

// Write makes dir match files: it writes pages whose content differs and
// deletes generated pages of components that no longer exist. Files without
// the generated marker are never deleted.
func Write(dir string, files map[string][]byte) error {
	for _, rel := range sortedKeys(files) {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if got, err := os.ReadFile(path); err == nil && bytes.Equal(got, files[rel]) {
			continue // keep the mtime, so build tools don't see a change
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("creating directory for %s: %w", rel, err)
		}
		if err := os.WriteFile(path, files[rel], 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", rel, err)
		}
	}
	stale, err := stalePages(dir, files)
	if err != nil {
		return err
	}
	for _, rel := range stale {
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			return fmt.Errorf("removing stale %s: %w", rel, err)
		}
	}
	return nil
}

// stalePages finds generated .md files under dir that files no longer
// contains. A missing dir has none.
func stalePages(dir string, files map[string][]byte) ([]string, error) {
	var stale []string
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == dir {
			return fs.SkipAll
		}
		if err != nil {
			return err
		}
		if e.IsDir() || filepath.Ext(path) != ".md" {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if _, ok := files[rel]; ok {
			return nil
		}
		generated, err := hasMarker(path)
		if err != nil {
			return err
		}
		if generated {
			stale = append(stale, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scanning %s: %w", dir, err)
	}
	return stale, nil
}

func hasMarker(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	return bytes.HasPrefix(b, []byte(GeneratedMarker)), nil
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
