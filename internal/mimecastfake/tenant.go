package mimecastfake

import (
	"fmt"
	"sort"
	"strconv"
	"sync/atomic"
	"time"
)

// tenant is the generated account: domains and users are small and built eagerly; messages and
// events are derived from (seed, kind, index) when asked for.
type tenant struct {
	seed    int64
	sizes   Sizes
	anchor  time.Time
	domains []domain
	// mailboxes caches mailbox(m) for the generated mailboxes: alert records name one each,
	// and formatting a user per record was a measurable part of a page's cost.
	mailboxes []user
	// received and heads cache, per generated message (index m*MessagesPerMailbox+n), its
	// receipt time (filled in newTenant) and its alertMail description (filled on first use;
	// concurrent fillers store equal values). Every alert record looks up one message, and a
	// tenant has few (150 by default), so describing each once takes the message out of the
	// per-event cost. Nil when the tenant has more messages than maxCachedMessages.
	received []time.Time
	heads    []atomic.Pointer[archMsg]
}

// maxCachedMailboxes and maxCachedMessages bound the caches; a larger tenant computes the rest
// on demand.
const (
	maxCachedMailboxes = 1 << 16
	maxCachedMessages  = 1 << 14
)

type domain struct {
	ID    string
	Name  string
	Local bool
}

type user struct {
	Name   string
	Email  string
	Domain string
}

func newTenant(opts Options) *tenant {
	t := &tenant{seed: opts.Seed, sizes: opts.Sizes, anchor: opts.Anchor}
	for i := 0; i < opts.Sizes.Domains; i++ {
		name := fmt.Sprintf("corp%d.example.com", i)
		if i >= opts.Sizes.Domains-opts.Sizes.LocalDomains {
			name = fmt.Sprintf("corp%d.local", i)
		}
		t.domains = append(t.domains, domain{
			ID:    fmt.Sprintf("eNoVzbsO%08x", t.hash("domain", i)),
			Name:  name,
			Local: i >= opts.Sizes.Domains-opts.Sizes.LocalDomains,
		})
	}
	if n := t.mailboxCount(); n <= maxCachedMailboxes {
		t.mailboxes = make([]user, n)
		for m := range t.mailboxes {
			t.mailboxes[m] = t.user(m/t.sizes.UsersPerDomain, m%t.sizes.UsersPerDomain)
		}
	}
	if n := t.mailboxCount() * t.sizes.MessagesPerMailbox; n <= maxCachedMessages {
		t.received = make([]time.Time, n)
		for k := range t.received {
			t.received[k] = t.computeReceived(k/t.sizes.MessagesPerMailbox, k%t.sizes.MessagesPerMailbox)
		}
		t.heads = make([]atomic.Pointer[archMsg], n)
	}
	return t
}

// messageSlot is the cache index of generated message n of mailbox m, or -1 if it has none.
func (t *tenant) messageSlot(m, n int) int {
	if t.received == nil || m < 0 || m >= t.mailboxCount() || n < 0 || n >= t.sizes.MessagesPerMailbox {
		return -1
	}
	return m*t.sizes.MessagesPerMailbox + n
}

// alertMail is generated message n of mailbox m as alerts quote it: messageHead, without the
// bodies the archive renders. The result shares its slices with a cache: read it, never
// modify it.
func (t *tenant) alertMail(m, n int) archMsg {
	k := t.messageSlot(m, n)
	if k < 0 {
		return t.describeHead(m, n)
	}
	if h := t.heads[k].Load(); h != nil {
		return *h
	}
	h := t.describeHead(m, n)
	t.heads[k].Store(&h)
	return h
}

func (t *tenant) describeHead(m, n int) archMsg {
	return messageHead(t.seed, t.mailbox(m), m, n, t.messageReceived(m, n), t.messageID(m, n), t.sizes)
}

var firstNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"}

// users lists the users of domain d (index into t.domains).
func (t *tenant) users(d int) []user {
	out := make([]user, 0, t.sizes.UsersPerDomain)
	for i := 0; i < t.sizes.UsersPerDomain; i++ {
		out = append(out, t.user(d, i))
	}
	return out
}

// user is user i of domain d.
func (t *tenant) user(d, i int) user {
	first := firstNames[i%len(firstNames)]
	local := first
	if i >= len(firstNames) {
		local = fmt.Sprintf("%s%d", first, i/len(firstNames))
	}
	dn := t.domains[d].Name
	return user{Name: fmt.Sprintf("%s %s", titleASCII(local), "Example"), Email: local + "@" + dn, Domain: dn}
}

// mailboxCount is the number of mailboxes (users) across all domains.
func (t *tenant) mailboxCount() int { return len(t.domains) * t.sizes.UsersPerDomain }

// mailbox maps a global mailbox index to its user.
func (t *tenant) mailbox(m int) user {
	if m >= 0 && m < len(t.mailboxes) {
		return t.mailboxes[m]
	}
	return t.user(m/t.sizes.UsersPerDomain, m%t.sizes.UsersPerDomain)
}

// messageID is the RFC 822 Message-ID of archive message n of mailbox m. Threat events,
// tracking and the archive all use it, so an event's message id can be looked up and enriched.
func (t *tenant) messageID(m, n int) string {
	b := make([]byte, 0, 64)
	b = append(b, '<')
	b = appendHex16(b, t.hash("msg", m*1_000_003+n))
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(m), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, "@mail.fake-mimecast.test>"...)
	return string(b)
}

// hash derives a stable 64-bit value from the seed, a kind and an index: FNV-64a of
// "seed|kind|i". It is on the path of every alert record (Message-IDs), so it formats into a
// stack buffer rather than through fmt.
func (t *tenant) hash(kind string, i int) uint64 {
	var buf [96]byte
	b := strconv.AppendInt(buf[:0], t.seed, 10)
	b = append(b, '|')
	b = append(b, kind...)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(i), 10)
	h := uint64(14695981039346656037) // FNV-64a offset basis, as hash/fnv
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// appendHex16 appends v as 16 lower-case hex digits, as %016x does.
func appendHex16(b []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for k := 60; k >= 0; k -= 4 {
		b = append(b, digits[(v>>uint(k))&0xF])
	}
	return b
}

func titleASCII(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-32) + s[1:]
}

// messageReceived is when generated message n (< Sizes.MessagesPerMailbox) of mailbox m reached
// the tenant: the messages of a mailbox are spread evenly over [Anchor-Span, Anchor]. It is the
// same instant the archive reports (archive_state.go messageTimeLocked; a test pins the two
// together), so an alert event's message is found where and when the event says.
func (t *tenant) messageReceived(m, n int) time.Time {
	if k := t.messageSlot(m, n); k >= 0 {
		return t.received[k]
	}
	return t.computeReceived(m, n)
}

func (t *tenant) computeReceived(m, n int) time.Time {
	base := int64(max(1, t.sizes.MessagesPerMailbox))
	spanMs := t.sizes.Span.Milliseconds()
	lo := spanMs * int64(n) / base
	hi := spanMs * int64(n+1) / base
	off := lo + int64(detHash(t.seed, kindMsgTime, m, n, 0)%uint64(max(hi-lo, 1)))
	return t.anchor.Add(-t.sizes.Span).Add(time.Duration(off) * time.Millisecond).Truncate(time.Second)
}

// messageBefore is the newest generated message of mailbox m received at or before at (0 when
// even the first one is later): alert events point at mail that had already arrived.
func (t *tenant) messageBefore(m int, at time.Time) int {
	k := sort.Search(t.sizes.MessagesPerMailbox, func(n int) bool { return t.messageReceived(m, n).After(at) })
	return max(0, k-1)
}
