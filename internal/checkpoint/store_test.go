package checkpoint

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fileKV builds a Store over a Benthos `file` cache in dir, as a new process would.
func fileKV(t *testing.T, dir string) *Store {
	t.Helper()
	b := service.NewResourceBuilder()
	require.NoError(t, b.AddCacheYAML("label: ckpt\nfile:\n  directory: "+dir+"\n"))
	res, stop, err := b.Build()
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop(t.Context()) })
	return NewStore(res, "ckpt")
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func mustGet(t *testing.T, kv *Store, key string) string {
	t.Helper()
	raw, ok, err := kv.Get(t.Context(), key)
	require.NoError(t, err)
	require.True(t, ok, "no value under %s", key)
	return string(raw)
}

// The file cache truncates and then writes: a SIGKILL between the two leaves the copy being
// written empty or cut short. Wherever a save is killed, a restart reads a whole value: the
// one before the save, or the one it was saving.
func TestCheckpointSaveKilledAnywhereLeavesAWholeValue(t *testing.T) {
	old, next := []byte(`{"v":1}`), []byte(`{"v":2}`)
	torn := map[string][]byte{
		"empty":            nil,
		"cut in the magic": frame(next)[:3],
		"cut in the head":  frame(next)[:len(frameMagic)+2],
		"cut in the value": frame(next)[:len(frame(next))-2],
	}
	// pending and key are what the two files hold when the save is killed.
	type killed struct{ pending, key, want []byte }
	cases := map[string]killed{
		"killed between the two copies":           {pending: frame(next), key: frame(old), want: next},
		"killed before deleting the pending copy": {pending: frame(next), key: frame(next), want: next},
	}
	for how, bad := range torn {
		cases["killed writing the pending copy, "+how] = killed{pending: bad, key: frame(old), want: old}
		cases["killed writing the key, "+how] = killed{pending: frame(next), key: bad, want: next}
	}

	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "k"), tc.key, 0o600))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "k"+pendingSuffix), tc.pending, 0o600))
			kv := fileKV(t, dir)
			assert.JSONEq(t, string(tc.want), mustGet(t, kv, "k"))

			require.NoError(t, kv.Set(t.Context(), "k", []byte(`{"v":3}`)))
			assert.JSONEq(t, `{"v":3}`, mustGet(t, fileKV(t, dir), "k"))
			assert.Equal(t, []string{"k"}, dirNames(t, dir))
		})
	}
}

func TestCheckpointKeyHasOneFileAtRest(t *testing.T) {
	dir := t.TempDir()
	kv := fileKV(t, dir)
	for i := range 3 {
		require.NoError(t, kv.Set(t.Context(), "feed", []byte{'0' + byte(i)}))
		assert.Equal(t, []string{"feed"}, dirNames(t, dir), "after save %d", i+1)
	}
	assert.Equal(t, "2", mustGet(t, fileKV(t, dir), "feed"))
}

func TestCheckpointOfAnOlderReleaseIsRead(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "feed"), []byte(`{"old":true}`), 0o600))
	kv := fileKV(t, dir)
	assert.JSONEq(t, `{"old":true}`, mustGet(t, kv, "feed"))
	require.NoError(t, kv.Set(t.Context(), "feed", []byte(`{"new":true}`)))
	assert.JSONEq(t, `{"new":true}`, mustGet(t, fileKV(t, dir), "feed"))
}

func TestCheckpointWithEveryCopyDamagedReadsAsEmpty(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "feed"), []byte("mcv1 5 00000000\nhello"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "feed"+pendingSuffix), nil, 0o600))
	raw, ok, err := fileKV(t, dir).Get(t.Context(), "feed")
	require.NoError(t, err)
	assert.True(t, ok, "a damaged checkpoint is not a missing one: the caller must say so")
	assert.Empty(t, raw)
}

func TestCheckpointDeleteRemovesEveryCopy(t *testing.T) {
	dir := t.TempDir()
	kv := fileKV(t, dir)
	require.NoError(t, kv.Delete(t.Context(), "nothing-here"), "deleting a missing key is not an error")
	require.NoError(t, kv.Set(t.Context(), "feed", []byte(`{"a":1}`)))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "feed"+pendingSuffix), frame([]byte(`{"a":2}`)), 0o600))
	require.NoError(t, kv.Delete(t.Context(), "feed"))
	assert.Empty(t, dirNames(t, dir))
	_, ok, err := fileKV(t, dir).Get(t.Context(), "feed")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestCheckpointWithoutACacheStaysInMemory(t *testing.T) {
	kv := NewStore(service.MockResources(), "")
	require.NoError(t, kv.Set(t.Context(), "k", []byte("v")))
	assert.Equal(t, "v", mustGet(t, kv, "k"))
	require.NoError(t, kv.Delete(t.Context(), "k"))
	_, ok, err := kv.Get(t.Context(), "k")
	require.NoError(t, err)
	assert.False(t, ok)
}
