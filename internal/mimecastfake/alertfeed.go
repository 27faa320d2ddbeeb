package mimecastfake

import (
	"math/bits"
	"sort"
	"time"
)

// alertFeed is one generated record stream (URL clicks, held messages, threat events, ...).
// Record i has a time that never decreases with i: a backlog of Sizes.EventsPerFeed records
// spread over [Anchor-Span, Anchor], then Sizes.LiveEventsPerHour records per hour after
// Anchor, each visible once the clock reaches it. Everything about record i is derived from
// (seed, feed, i), so any page can be rendered without generating the records before it.
type alertFeed struct {
	key      uint64
	seed     uint64
	backlog  int
	start    time.Time // Anchor - Span
	step     time.Duration
	anchor   time.Time
	liveStep time.Duration // 0 = no live records
}

// Feed keys; each salts the generator so feeds are independent.
const (
	feedURLClicks uint64 = iota + 0x51
	feedAttachmentLogs
	feedImpersonationLogs
	feedHoldList
	feedHeldReleaseLogs
	feedThreatEvents
)

func (t *tenant) alertFeed(key uint64) alertFeed {
	f := alertFeed{
		key:     key,
		seed:    uint64(t.seed),
		backlog: t.sizes.EventsPerFeed,
		start:   t.anchor.Add(-t.sizes.Span),
		anchor:  t.anchor,
	}
	if f.backlog > 0 {
		f.step = t.sizes.Span / time.Duration(f.backlog)
	}
	if t.sizes.LiveEventsPerHour > 0 {
		f.liveStep = time.Hour / time.Duration(t.sizes.LiveEventsPerHour)
	}
	return f
}

// rnd is a stable pseudo-random value for record i and a salt naming the attribute.
func (f alertFeed) rnd(i int, salt uint64) uint64 {
	return splitmix64(f.seed ^ bits.RotateLeft64(f.key, 17) ^ uint64(i)*0x9E3779B97F4A7C15 ^ salt*0xD1B54A32D192ED03)
}

// pick chooses an element of n by rnd(i, salt).
func (f alertFeed) pick(i int, salt uint64, n int) int { return int(f.rnd(i, salt) % uint64(n)) }

// at is the time of record i, whole seconds, as the API reports them.
func (f alertFeed) at(i int) time.Time {
	if i < f.backlog {
		jitter := time.Duration(0)
		if f.step > 0 {
			jitter = time.Duration(f.rnd(i, 1) % uint64(f.step))
		}
		return f.start.Add(time.Duration(i)*f.step + jitter).Truncate(time.Second)
	}
	// Live record j falls in [Anchor+j*liveStep+1s, Anchor+(j+1)*liveStep): strictly after the
	// step boundary even in whole seconds, so exactly j records are visible at Anchor+j*liveStep.
	j := i - f.backlog
	jitter := time.Duration(f.rnd(i, 1) % uint64(f.liveStep-time.Second))
	return f.anchor.Add(time.Duration(j)*f.liveStep + time.Second + jitter).Truncate(time.Second)
}

// available is the number of records that exist at horizon: the backlog plus the live records
// whose time has come.
func (f alertFeed) available(horizon time.Time) int {
	n := f.backlog
	if f.liveStep == 0 || !horizon.After(f.anchor) {
		return n
	}
	// Live record j is before Anchor+(j+1)*liveStep, so at most this many are visible.
	maxLive := int(horizon.Sub(f.anchor)/f.liveStep) + 1
	return n + sort.Search(maxLive, func(j int) bool { return f.at(n + j).After(horizon) })
}

// between returns [lo, hi): the records with from <= at(i) <= to that exist at horizon.
func (f alertFeed) between(from, to, horizon time.Time) (int, int) {
	if horizon.Before(to) {
		to = horizon
	}
	n := f.available(horizon)
	lo := sort.Search(n, func(i int) bool { return !f.at(i).Before(from) })
	hi := sort.Search(n, func(i int) bool { return f.at(i).After(to) })
	return lo, max(lo, hi)
}

func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}
