package archive

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// archiveScope is the result of one directory walk.
type archiveScope struct {
	mailboxes []string // in scope, lower case, sorted, unique
	// complete is false when a domain or user record could not be decoded: a mailbox missing
	// from such a walk may still exist, so no mailbox is treated as gone.
	complete bool
}

// listScope walks internal domains and their users and applies the domain and mailbox filters.
// Only addresses are kept, so the walk costs memory per mailbox, not per message.
func (in *archiveInput) listScope(ctx context.Context) (archiveScope, error) {
	conn := in.cfg.conn
	scope := archiveScope{complete: true}
	var domains []string
	token := ""
	for {
		page, err := conn.Client.InternalDomainsPage(conn.Context(ctx), token)
		if err != nil {
			return scope, fmt.Errorf("listing internal domains: %w", err)
		}
		for _, d := range page.Items {
			if d.DecodeErr() != nil {
				in.metrics.decodeErrors.Incr(1)
				in.log.Warnf("skipping an internal domain record that cannot be decoded: %v", d.DecodeErr())
				scope.complete = false
				continue
			}
			if in.domainInScope(d) {
				domains = append(domains, d.Domain)
			}
		}
		if token = page.Next; token == "" {
			break
		}
	}
	listed := map[string]bool{}
	for _, domain := range domains {
		if listed[domain] {
			continue
		}
		listed[domain] = true
		token := ""
		for {
			page, err := conn.Client.InternalUsersPage(conn.Context(ctx), mimecast.InternalUsersRequest{Domain: domain}, token)
			if err != nil {
				return scope, fmt.Errorf("listing the users of %s: %w", domain, err)
			}
			for _, u := range page.Items {
				if u.DecodeErr() != nil || u.EmailAddress == "" {
					in.metrics.decodeErrors.Incr(1)
					in.log.Warnf("skipping a user record of %s that cannot be decoded: %v", domain, u.DecodeErr())
					scope.complete = false
					continue
				}
				// An alias's mail is archived in its main mailbox: crawling it would emit
				// every message twice.
				if u.Alias {
					continue
				}
				if addr := strings.ToLower(strings.TrimSpace(u.EmailAddress)); in.mailboxInScope(addr) {
					scope.mailboxes = append(scope.mailboxes, addr)
				}
			}
			if token = page.Next; token == "" {
				break
			}
		}
	}
	slices.Sort(scope.mailboxes)
	scope.mailboxes = slices.Compact(scope.mailboxes)
	return scope, nil
}

func (in *archiveInput) domainInScope(d mimecast.InternalDomain) bool {
	if d.Local && !in.cfg.includeLocal {
		return false
	}
	return len(in.cfg.includeDomains) == 0 || matchesAny(in.cfg.includeDomains, d.Domain)
}

func (in *archiveInput) mailboxInScope(addr string) bool {
	if len(in.cfg.includeMailboxes) > 0 && !matchesAny(in.cfg.includeMailboxes, addr) {
		return false
	}
	return !matchesAny(in.cfg.excludeMailboxes, addr)
}
