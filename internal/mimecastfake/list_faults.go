package mimecastfake

import (
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"time"
)

// listPage is the page after cur of walk under the list faults: ListOrder serves an order
// whatever the request asked, DuplicateAcrossPages repeats the previous page's last record
// first, and PageCycles points the next token back at the page before this one.
func (s *Server) listPage(token string, cur pageCursor, walk recordWalk, size int) pageOut {
	order := s.Faults().ListOrder
	switch order {
	case ListOrderNewest:
		walk.oldestFirst = false
	case ListOrderOldest, ListOrderShuffled:
		walk.oldestFirst = true
	}
	p := nextPage(cur, walk, size, token != "" && s.duplicateAcrossPages())
	if order == ListOrderShuffled {
		h := fnv.New64a()
		h.Write([]byte(token))
		rng := rand.New(rand.NewPCG(h.Sum64(), uint64(s.opts.Seed)))
		rng.Shuffle(len(p.indices), func(i, j int) { p.indices[i], p.indices[j] = p.indices[j], p.indices[i] })
	}
	if token != "" {
		// Also on the last page: a next token where none should be is a cycle too.
		if back := s.cycleBack(cur.Fingerprint, token); back != "" {
			p.next = back
		}
	}
	return p
}

// saltLate picks the records LateIndexBy delays.
const saltLate = 0x1a7e

// lateIndexed hides from a walk at horizon h the records of f that LateIndexBy has not indexed
// yet.
func (s *Server) lateIndexed(f alertFeed, h time.Time, w recordWalk) recordWalk {
	late := s.Faults().LateIndexBy
	if late <= 0 {
		return w
	}
	match := w.match
	w.match = func(i int) bool {
		if f.rnd(i, saltLate)%2 == 0 && f.at(i).Add(late).After(h) {
			return false
		}
		return match == nil || match(i)
	}
	return w
}

// maxCycleWalks bounds the walks PageCycles remembers.
const maxCycleWalks = 1024

// cycleBack remembers the follow-up tokens of each walk while PageCycles is armed and, for the
// third page of a walk or later, takes the fault and returns the token of the page before.
func (s *Server) cycleBack(fingerprint, token string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.PageCycles <= 0 {
		s.cycleWalks = nil
		return ""
	}
	if s.cycleWalks == nil || len(s.cycleWalks) > maxCycleWalks {
		s.cycleWalks = map[string][]string{}
	}
	walk := s.cycleWalks[fingerprint]
	i := slices.Index(walk, token)
	if i < 0 {
		walk = append(walk, token)
		s.cycleWalks[fingerprint] = walk
		i = len(walk) - 1
	}
	if i == 0 {
		return ""
	}
	s.faults.PageCycles--
	return walk[i-1]
}
