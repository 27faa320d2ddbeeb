package mimecastfake

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// archiveState is the part of the archive that tests change at run time, so a crawler sees
// mailboxes leave its scope and new mail arrive. Its zero value is an unchanged tenant.
//
// Mailbox indices: 0..mailboxCount()-1 are the generated users; mailboxCount()+k is the k-th
// mailbox added by AddMailbox. Indices are never reused, so an id never resolves to a message of
// a different mailbox.
type archiveState struct {
	mu              sync.RWMutex
	removed         map[int]bool
	added           []user
	addedPerDomain  map[int]int
	batches         map[int][]messageBatch
	removedMessages map[[2]int]bool
}

// messageBatch is a group of messages added at run time, all received at the same instant.
type messageBatch struct {
	count int
	at    time.Time
}

var errUnknownMailbox = errors.New("unknown mailbox")

// RemoveMailbox removes a mailbox (user) from the directory and its messages from the archive,
// as when a user leaves the organisation. It reports whether the mailbox existed.
func (s *Server) RemoveMailbox(email string) bool {
	st := &s.archive
	st.mu.Lock()
	defer st.mu.Unlock()
	m, ok := s.mailboxIndexLocked(email)
	if !ok {
		return false
	}
	if st.removed == nil {
		st.removed = map[int]bool{}
	}
	st.removed[m] = true
	return true
}

// AddMailbox adds a user to domain (a domain name of the tenant) with messages archive messages
// received now, and returns its email address.
func (s *Server) AddMailbox(domainName string, messages int) (string, error) {
	d := -1
	for i, dom := range s.tenant.domains {
		if strings.EqualFold(dom.Name, domainName) {
			d = i
		}
	}
	if d < 0 {
		return "", fmt.Errorf("adding mailbox: unknown domain %q", domainName)
	}
	now := s.now()
	st := &s.archive
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.addedPerDomain == nil {
		st.addedPerDomain = map[int]int{}
	}
	// Users past UsersPerDomain get fresh local parts (alice1, bob1, …), so they never collide.
	u := s.tenant.user(d, s.opts.Sizes.UsersPerDomain+st.addedPerDomain[d])
	st.addedPerDomain[d]++
	m := s.tenant.mailboxCount() + len(st.added)
	st.added = append(st.added, u)
	if messages > 0 {
		st.addBatchLocked(m, messages, now)
	}
	return u.Email, nil
}

// AddMessages archives k new messages in the mailbox of email, received at the fake's current
// time, so a delta crawl finds them.
func (s *Server) AddMessages(email string, k int) error {
	now := s.now()
	st := &s.archive
	st.mu.Lock()
	defer st.mu.Unlock()
	m, ok := s.mailboxIndexLocked(email)
	if !ok {
		return fmt.Errorf("adding messages to %q: %w", email, errUnknownMailbox)
	}
	if k > 0 {
		st.addBatchLocked(m, k, now)
	}
	return nil
}

func (st *archiveState) addBatchLocked(m, k int, at time.Time) {
	if st.batches == nil {
		st.batches = map[int][]messageBatch{}
	}
	st.batches[m] = append(st.batches[m], messageBatch{count: k, at: at.UTC().Truncate(time.Second)})
}

// RemoveMessage deletes one archived message by its archive id (as returned by search or
// get-message-list). It reports whether the message existed.
func (s *Server) RemoveMessage(id string) bool {
	ref, ok := s.parseArchiveID(id)
	if !ok || ref.part != 0 {
		return false
	}
	st := &s.archive
	st.mu.Lock()
	defer st.mu.Unlock()
	if !s.messageExistsLocked(ref.m, ref.n) {
		return false
	}
	if st.removedMessages == nil {
		st.removedMessages = map[[2]int]bool{}
	}
	st.removedMessages[[2]int{ref.m, ref.n}] = true
	return true
}

// Mailboxes lists the email addresses of every current mailbox, in directory order.
func (s *Server) Mailboxes() []string {
	s.archive.mu.RLock()
	defer s.archive.mu.RUnlock()
	var out []string
	for _, m := range s.activeMailboxesLocked() {
		out = append(out, s.mailboxUserLocked(m).Email)
	}
	return out
}

// MessageIDs lists the archive ids of every current message of a mailbox, newest first (the
// order of search and get-message-list).
func (s *Server) MessageIDs(email string) []string {
	s.archive.mu.RLock()
	defer s.archive.mu.RUnlock()
	m, ok := s.mailboxIndexLocked(email)
	if !ok {
		return nil
	}
	var out []string
	for n := s.messageCountLocked(m) - 1; n >= 0; n-- {
		if !s.archive.removedMessages[[2]int{m, n}] {
			out = append(out, s.archiveID(m, n, 0))
		}
	}
	return out
}

// mailboxIndexLocked finds the current mailbox of email (case-insensitive).
func (s *Server) mailboxIndexLocked(email string) (int, bool) {
	email = strings.ToLower(strings.TrimSpace(email))
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return 0, false
	}
	for d, dom := range s.tenant.domains {
		if dom.Name != email[at+1:] {
			continue
		}
		for i := 0; i < s.opts.Sizes.UsersPerDomain; i++ {
			if m := d*s.opts.Sizes.UsersPerDomain + i; s.tenant.user(d, i).Email == email && !s.archive.removed[m] {
				return m, true
			}
		}
	}
	for k, u := range s.archive.added {
		if m := s.tenant.mailboxCount() + k; u.Email == email && !s.archive.removed[m] {
			return m, true
		}
	}
	return 0, false
}

// activeMailboxesLocked lists current mailbox indices in ascending order.
func (s *Server) activeMailboxesLocked() []int {
	total := s.tenant.mailboxCount() + len(s.archive.added)
	out := make([]int, 0, total)
	for m := 0; m < total; m++ {
		if !s.archive.removed[m] {
			out = append(out, m)
		}
	}
	return out
}

func (s *Server) mailboxActiveLocked(m int) bool {
	return m >= 0 && m < s.tenant.mailboxCount()+len(s.archive.added) && !s.archive.removed[m]
}

func (s *Server) mailboxUserLocked(m int) user {
	if base := s.tenant.mailboxCount(); m >= base {
		return s.archive.added[m-base]
	}
	return s.tenant.mailbox(m)
}

// messageCountLocked counts messages ever archived in mailbox m, removed ones included: n
// indices are stable, removal only hides them.
func (s *Server) messageCountLocked(m int) int {
	n := 0
	if m < s.tenant.mailboxCount() {
		n = s.opts.Sizes.MessagesPerMailbox
	}
	for _, b := range s.archive.batches[m] {
		n += b.count
	}
	return n
}

func (s *Server) messageExistsLocked(m, n int) bool {
	return s.mailboxActiveLocked(m) && n >= 0 && n < s.messageCountLocked(m) && !s.archive.removedMessages[[2]int{m, n}]
}

// messageTimeLocked is when message n of mailbox m was received: generated messages at
// tenant.messageReceived (the instant tracking and alert feeds use too), added ones when
// AddMessages ran. It never decreases with n, so date filters become index ranges.
func (s *Server) messageTimeLocked(m, n int) time.Time {
	base := 0
	if m < s.tenant.mailboxCount() {
		base = s.opts.Sizes.MessagesPerMailbox
		if n < base {
			return s.tenant.messageReceived(m, n)
		}
	}
	k := n - base
	for _, b := range s.archive.batches[m] {
		if k < b.count {
			return b.at
		}
		k -= b.count
	}
	return s.opts.Anchor
}

// messageRangeLocked is the half-open index range of mailbox m's messages received in
// [from, to]; a zero bound is open.
func (s *Server) messageRangeLocked(m int, from, to time.Time) (lo, hi int) {
	count := s.messageCountLocked(m)
	lo, hi = 0, count
	if !from.IsZero() {
		lo = sort.Search(count, func(n int) bool { return !s.messageTimeLocked(m, n).Before(from) })
	}
	if !to.IsZero() {
		hi = sort.Search(count, func(n int) bool { return s.messageTimeLocked(m, n).After(to) })
	}
	return lo, max(lo, hi)
}

// messageLocked describes message n of mailbox m; the caller checked it exists.
func (s *Server) messageLocked(m, n int) archMsg {
	return buildMessage(s.opts.Seed, s.mailboxUserLocked(m), m, n, s.messageTimeLocked(m, n), s.tenant.messageID(m, n), s.opts.Sizes)
}

// archiveRef is what an archive id encodes: part 0 is the message, part k its k-th attachment.
type archiveRef struct{ m, n, part int }

// archiveID is the opaque, stable id of (mailbox, message, part): varints plus a seeded check
// so that a made-up or foreign id does not resolve.
func (s *Server) archiveID(m, n, part int) string {
	buf := make([]byte, 0, 24)
	buf = append(buf, 1)
	buf = binary.AppendUvarint(buf, uint64(m))
	buf = binary.AppendUvarint(buf, uint64(n))
	buf = binary.AppendUvarint(buf, uint64(part))
	buf = binary.BigEndian.AppendUint32(buf, uint32(detHash(s.opts.Seed, kindMsgID, m, n, part)))
	return base64.RawURLEncoding.EncodeToString(buf)
}

func (s *Server) parseArchiveID(id string) (archiveRef, bool) {
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(b) < 1+3+4 || b[0] != 1 {
		return archiveRef{}, false
	}
	rest := b[1:]
	var vals [3]int
	for i := range vals {
		v, k := binary.Uvarint(rest)
		if k <= 0 || v > 1<<40 {
			return archiveRef{}, false
		}
		vals[i], rest = int(v), rest[k:]
	}
	if len(rest) != 4 || binary.BigEndian.Uint32(rest) != uint32(detHash(s.opts.Seed, kindMsgID, vals[0], vals[1], vals[2])) {
		return archiveRef{}, false
	}
	return archiveRef{m: vals[0], n: vals[1], part: vals[2]}, true
}
