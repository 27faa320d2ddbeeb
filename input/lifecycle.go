package input

import (
	"context"
	"sync"

	"github.com/Jeffail/shutdown"
)

// lifecycle is the start and stop state both Mimecast inputs share: background work starts once
// in Connect, lives until Close (never until Connect's context ends), and Close waits for it.
type lifecycle struct {
	connMu  sync.Mutex
	started bool
	shutSig *shutdown.Signaller
}

func newLifecycle() lifecycle { return lifecycle{shutSig: shutdown.NewSignaller()} }

// isStarted reports whether Connect started the background work.
func (l *lifecycle) isStarted() bool {
	l.connMu.Lock()
	defer l.connMu.Unlock()
	return l.started
}

// stop triggers a soft stop and waits for the background work, or for ctx.
func (l *lifecycle) stop(ctx context.Context) error {
	started := l.isStarted()
	l.shutSig.TriggerSoftStop()
	if !started {
		return nil
	}
	select {
	case <-l.shutSig.HasStoppedChan():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
