// Package refusal tells a 403 about one message from an API application that lacks a
// permission, for every component that looks messages up (mimecast_enrich, the content_view
// of mimecast_threats).
package refusal

import (
	"sync"
	"time"
)

// Gate decides per lookup whether a refusal is about the messages or about the application.
// A 403 from Mimecast is first about one message: content under a legal hold or a Smart Tag, or
// outside the application role's scope, is refused while the application reads other messages.
// The gate closes a lookup for every message only when the application itself seems to lack
// the permission: threshold distinct messages refused in a row with no success in between. A
// closed lookup is answered "refused" without a call, and asked again after the recheck
// interval; any success reopens it. A caller may also close a lookup at once (Close), when a
// permission probe is refused as well.
type Gate struct {
	mu        sync.Mutex
	threshold int
	recheck   time.Duration
	lookups   map[string]*gateState
}

type gateState struct {
	streak map[string]bool // distinct message ids refused since the last success, at most threshold
	closed bool
	until  time.Time // while closed: when the lookup is asked again
	last   error     // the refusal that closed it
}

// DefaultThreshold is how many distinct messages refused in a row close a lookup, unless a
// component's config says otherwise.
const DefaultThreshold = 3

// DefaultRecheck is how long a closed lookup is not asked. Permissions change rarely; asking on
// every event would spend the application's quota on refusals.
const DefaultRecheck = 5 * time.Minute

// New returns a gate closing a lookup after threshold distinct refusals in a row, for recheck.
func New(threshold int, recheck time.Duration) *Gate {
	return &Gate{threshold: threshold, recheck: recheck, lookups: map[string]*gateState{}}
}

// Threshold is the number of distinct refusals in a row that close a lookup.
func (g *Gate) Threshold() int { return g.threshold }

// Recheck is how long a closed lookup is not asked.
func (g *Gate) Recheck() time.Duration { return g.recheck }

func (g *Gate) state(lookup string) *gateState {
	st := g.lookups[lookup]
	if st == nil {
		st = &gateState{streak: map[string]bool{}}
		g.lookups[lookup] = st
	}
	return st
}

// ClosedFor returns the refusal that closed lookup while it is not to be asked, else nil. Once
// the recheck time passed, calls go through again until one answers.
func (g *Gate) ClosedFor(lookup string, now time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.state(lookup)
	if st.closed && now.Before(st.until) {
		return st.last
	}
	return nil
}

// Refused records that Mimecast refused lookup for message id; closed is true when this
// refusal closes the lookup (not when a recheck of a closed one is refused again).
func (g *Gate) Refused(lookup, id string, err error, now time.Time) (closed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.state(lookup)
	if len(st.streak) < g.threshold {
		// Past the threshold the streak only has to say "enough": bounded, however many
		// messages a closed lookup is refused for.
		st.streak[id] = true
	}
	if st.closed {
		st.until, st.last = now.Add(g.recheck), err
		return false
	}
	if len(st.streak) < g.threshold {
		return false
	}
	st.closed, st.until, st.last = true, now.Add(g.recheck), err
	return true
}

// Streak is how many distinct messages were refused lookup since its last success.
func (g *Gate) Streak(lookup string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.state(lookup).streak)
}

// Close closes lookup for every message at once, as when a permission probe was refused too;
// closed is false when it was closed already.
func (g *Gate) Close(lookup string, err error, now time.Time) (closed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.state(lookup)
	closed = !st.closed
	st.closed, st.until, st.last = true, now.Add(g.recheck), err
	return closed
}

// Succeeded records an answer to lookup; reopened is true when it had been closed.
func (g *Gate) Succeeded(lookup string) (reopened bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.state(lookup)
	reopened = st.closed
	st.closed, st.last = false, nil
	clear(st.streak)
	return reopened
}
