package checkpoint

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAckTrackerCommitsOnlyPastContiguouslyAckedChunks(t *testing.T) {
	var tr ackTracker[string]
	a, b, c := tr.add(), tr.add(), tr.add()
	commit := func(s string) *string { return &s }

	_, _, ok := tr.done(b, commit("after b"))
	assert.False(t, ok, "b was acked before a: nothing is safe yet")

	st, upTo, ok := tr.done(a, commit("after a"))
	assert.True(t, ok)
	assert.Equal(t, "after b", st, "a and b are both done: b's state is the newest safe one")
	assert.Equal(t, b+1, upTo)

	_, _, ok = tr.done(c, nil)
	assert.False(t, ok, "a chunk without a commit state moves nothing")
}
