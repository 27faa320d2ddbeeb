package checkpoint

// ackTracker orders acknowledgements: a state (a checkpoint of type T) is committed only once
// every earlier chunk is done, whatever order the pipeline acknowledges chunks in.
type ackTracker[T any] struct {
	next    uint64 // next sequence number to hand out
	low     uint64 // lowest sequence number not yet done
	pending map[uint64]trackedChunk[T]
}

type trackedChunk[T any] struct {
	commit *T
}

func (t *ackTracker[T]) add() uint64 {
	seq := t.next
	t.next++
	return seq
}

// done marks seq acknowledged and returns the newest commit state that is now safe, the sequence
// number it belongs to, and whether there is one.
func (t *ackTracker[T]) done(seq uint64, commit *T) (T, uint64, bool) {
	if t.pending == nil {
		t.pending = map[uint64]trackedChunk[T]{}
	}
	t.pending[seq] = trackedChunk[T]{commit: commit}
	var (
		last  *T
		upTo  uint64
		found bool
	)
	for {
		c, ok := t.pending[t.low]
		if !ok {
			break
		}
		delete(t.pending, t.low)
		if c.commit != nil {
			last, upTo, found = c.commit, t.low+1, true
		}
		t.low++
	}
	if !found {
		var zero T
		return zero, 0, false
	}
	return *last, upTo, true
}
