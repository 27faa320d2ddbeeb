package mimecastfake

import (
	"fmt"
	"hash/fnv"
	"time"
)

// tenant is the generated account: domains and users are small and built eagerly; messages and
// events are derived from (seed, kind, index) when asked for.
type tenant struct {
	seed    int64
	sizes   Sizes
	anchor  time.Time
	domains []domain
}

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
	return t
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
	return t.user(m/t.sizes.UsersPerDomain, m%t.sizes.UsersPerDomain)
}

// messageID is the RFC 822 Message-ID of archive message n of mailbox m. Threat events,
// tracking and the archive all use it, so an event's message id can be looked up and enriched.
func (t *tenant) messageID(m, n int) string {
	return fmt.Sprintf("<%016x.%d.%d@mail.fake-mimecast.test>", t.hash("msg", m*1_000_003+n), m, n)
}

// hash derives a stable 64-bit value from the seed, a kind and an index.
func (t *tenant) hash(kind string, i int) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%s|%d", t.seed, kind, i)
	return h.Sum64()
}

func titleASCII(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-32) + s[1:]
}

// messageReceived is when message n of mailbox m reached the tenant. Messages of a mailbox are
// spread evenly over [Anchor-Span, Anchor] (Sizes.MessagesPerMailbox of them); n beyond that
// continues at the same pace after Anchor, so live alert events can reference mail that arrived
// after the backlog. The archive, message tracking and the alert feeds all read it, so an event's
// message is found where and when the event says.
func (t *tenant) messageReceived(m, n int) time.Time {
	step := t.sizes.Span / time.Duration(max(1, t.sizes.MessagesPerMailbox))
	jitter := time.Duration(splitmix64(uint64(t.seed)^uint64(m)*0x9E3779B97F4A7C15^uint64(n)*0xC2B2AE3D27D4EB4F) % uint64(max(step, 1)))
	return t.anchor.Add(-t.sizes.Span + time.Duration(n)*step + jitter).Truncate(time.Second)
}

// messageBefore is the newest message of mailbox m received at or before at (0 if none is).
func (t *tenant) messageBefore(m int, at time.Time) int {
	step := t.sizes.Span / time.Duration(max(1, t.sizes.MessagesPerMailbox))
	n := max(0, int(at.Sub(t.anchor.Add(-t.sizes.Span))/max(step, 1)))
	for n > 0 && t.messageReceived(m, n).After(at) {
		n--
	}
	return n
}
