package reliability

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTailHandsOverEachLineOnceAndTheTornLastLineAtTheEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	var got []string
	line := func(b []byte) { got = append(got, string(b)) }
	tl := newTail(path)
	require.NoError(t, tl.poll(line), "a file not written yet is not an error")

	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteString("{\"a\":1}\n{\"b\"")
	require.NoError(t, err)
	require.NoError(t, tl.poll(line))
	assert.Equal(t, []string{`{"a":1}`}, got)

	_, err = f.WriteString(":2}\n{\"c\":3}")
	require.NoError(t, err)
	require.NoError(t, tl.poll(line))
	assert.Equal(t, []string{`{"a":1}`, `{"b":2}`}, got)

	require.NoError(t, tl.finish(line))
	assert.Equal(t, []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}, got)
}
