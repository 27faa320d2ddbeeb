package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// ArchiveCrash shapes the mimecast_archive crash test.
type ArchiveCrash struct {
	Mailboxes          int // default 50, made of domains of 10 users
	MessagesPerMailbox int // default 200
	PageSize           int // page_size (archive search page); default 10
	MailboxConcurrency int // mailbox_concurrency; default 2
}

func (c *ArchiveCrash) withDefaults() {
	if c.Mailboxes <= 0 {
		c.Mailboxes = 50
	}
	if c.MessagesPerMailbox <= 0 {
		c.MessagesPerMailbox = 200
	}
	if c.PageSize <= 0 {
		c.PageSize = 10
	}
	if c.MailboxConcurrency <= 0 {
		c.MailboxConcurrency = 2
	}
}

// archiveBatchesInFlight mirrors the input's own limit of unacknowledged batches per mailbox
// (internal/archive/mailbox.go); a batch is at most one search page.
const archiveBatchesInFlight = 4

// RunArchiveCrash runs the crash test of mimecast_archive: a full crawl of c.Mailboxes
// mailboxes, ending at end_date so the last run exits on its own once everything is in.
func RunArchiveCrash(ctx context.Context, opts CrashOptions, c ArchiveCrash) (*CrashReport, error) {
	c.withDefaults()
	const usersPerDomain = 10
	domains := (c.Mailboxes + usersPerDomain - 1) / usersPerDomain
	fake, err := StartFake(mimecastfake.Options{
		Seed: opts.Seed,
		Sizes: mimecastfake.Sizes{
			Domains:            domains,
			UsersPerDomain:     usersPerDomain,
			MessagesPerMailbox: c.MessagesPerMailbox,
		},
	})
	if err != nil {
		return nil, err
	}
	defer fake.Close()
	mailboxes := fake.Mailboxes()
	// Mailboxes beyond the wanted number are removed from the tenant, so the directory and
	// the truth agree.
	for _, mb := range mailboxes[min(c.Mailboxes, len(mailboxes)):] {
		fake.RemoveMailbox(mb)
	}
	mailboxes = fake.Mailboxes()
	truth := map[string]int{}
	for _, mb := range mailboxes {
		for _, id := range fake.MessageIDs(mb) {
			truth[archiveKey(mb, id)]++
		}
	}
	fmt.Fprintf(opts.Log, "archive: tenant at %s holds %d emails in %d mailboxes\n", fake.URL, len(truth), len(mailboxes))
	sc := &archiveScenario{c: c, fake: fake, state: filepath.Join(opts.Dir, "state"),
		endDate: time.Now().Add(time.Second).UTC().Format(time.RFC3339)}
	return runCrash(ctx, opts, sc, truth)
}

type archiveScenario struct {
	c       ArchiveCrash
	fake    *Fake
	state   string
	endDate string
}

func (s *archiveScenario) name() string { return "mimecast_archive" }

func (s *archiveScenario) env() map[string]string { return s.fake.Env() }

func (s *archiveScenario) resetMarker() string { return " again from " }

func (s *archiveScenario) config(output string) string {
	return fmt.Sprintf(`# Crash test pipeline: every archived email as one line {"mailbox","id","op","doc"}.
http:
  enabled: false
input:
  mimecast_archive:
    api_url: ${MIMECAST_API_URL}
    client_id: ${MIMECAST_CLIENT_ID}
    client_secret: ${MIMECAST_CLIENT_SECRET}
    include_local_domains: true
    end_date: %s
    page_size: %d
    mailbox_concurrency: %d
    stats_interval: ""
    progress_interval: ""
    checkpoint_cache: checkpoints
cache_resources:
  - label: checkpoints
    file:
      directory: %s
pipeline:
  processors:
    - mapping: 'root = {"mailbox": @mimecast_mailbox, "id": @mimecast_message_id, "op": @mimecast_operation, "doc": @mimecast_document}'
output:
  file:
    path: %s
    codec: lines
metrics:
  none: {}
logger:
  level: warn
`, s.endDate, s.c.PageSize, s.c.MailboxConcurrency, s.state, output)
}

// key names an indexed email by mailbox and archive id; any other document or operation gets
// a key the truth does not hold, so it is counted as unknown.
func (s *archiveScenario) key(line []byte) (string, bool) {
	var ev struct {
		Mailbox string `json:"mailbox"`
		ID      string `json:"id"`
		Op      string `json:"op"`
		Doc     string `json:"doc"`
	}
	if err := json.Unmarshal(line, &ev); err != nil || ev.Mailbox == "" {
		return "", false
	}
	if ev.Op != "index" || ev.Doc != "email" {
		return ev.Op + " " + ev.Doc + " " + archiveKey(ev.Mailbox, ev.ID), true
	}
	return archiveKey(ev.Mailbox, ev.ID), true
}

// boundPerKill: each mailbox being crawled has at most archiveBatchesInFlight batches (each at
// most one search page) waiting for acknowledgement, and mailbox_concurrency mailboxes are
// crawled at once.
func (s *archiveScenario) boundPerKill() (int, string) {
	return s.c.MailboxConcurrency * archiveBatchesInFlight * s.c.PageSize, fmt.Sprintf(
		"mailbox_concurrency %d x %d batches in flight x page_size %d", s.c.MailboxConcurrency, archiveBatchesInFlight, s.c.PageSize)
}

func archiveKey(mailbox, id string) string { return mailbox + "/" + id }
