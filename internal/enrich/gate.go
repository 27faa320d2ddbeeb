package enrich

import (
	"sync"
	"time"
)

// A 403 from Mimecast is first about one message: content under a legal hold or a Smart Tag, or
// outside the application role's scope, is refused while the application reads other messages.
// refusalGate closes a lookup for every message only when the application itself seems to lack
// the permission: forbidden_threshold distinct messages refused in a row with no success in
// between. A closed lookup is answered "refused" without a call, and asked again after
// forbiddenRecheck; any success reopens it.
type refusalGate struct {
	mu        sync.Mutex
	threshold int
	lookups   map[string]*gateState
}

type gateState struct {
	streak map[string]bool // distinct message ids refused since the last success
	closed bool
	until  time.Time // while closed: when the lookup is asked again
	last   error     // the refusal that closed it
}

func newRefusalGate(threshold int) *refusalGate {
	return &refusalGate{threshold: threshold, lookups: map[string]*gateState{}}
}

func (g *refusalGate) state(lookup string) *gateState {
	st := g.lookups[lookup]
	if st == nil {
		st = &gateState{streak: map[string]bool{}}
		g.lookups[lookup] = st
	}
	return st
}

// closedFor returns the refusal that closed lookup while it is not to be asked, else nil. Once
// the recheck time passed, calls go through again until one answers.
func (g *refusalGate) closedFor(lookup string, now time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.state(lookup)
	if st.closed && now.Before(st.until) {
		return st.last
	}
	return nil
}

// refused records that Mimecast refused lookup for message id; closed is true when this
// refusal closes the lookup (not when a recheck of a closed one is refused again).
func (g *refusalGate) refused(lookup, id string, err error, now time.Time) (closed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.state(lookup)
	st.streak[id] = true
	if st.closed {
		st.until, st.last = now.Add(forbiddenRecheck), err
		return false
	}
	if len(st.streak) < g.threshold {
		return false
	}
	st.closed, st.until, st.last = true, now.Add(forbiddenRecheck), err
	return true
}

// succeeded records an answer to lookup; reopened is true when it had been closed.
func (g *refusalGate) succeeded(lookup string) (reopened bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.state(lookup)
	reopened = st.closed
	st.closed, st.last = false, nil
	clear(st.streak)
	return reopened
}
