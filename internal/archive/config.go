package archive

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/connection"
)

const (
	afIncludeDomains        = "include_domains"
	afIncludeLocalDomains   = "include_local_domains"
	afIncludeMailboxes      = "include_mailboxes"
	afExcludeMailboxes      = "exclude_mailboxes"
	afStartDate             = "start_date"
	afEndDate               = "end_date"
	afPollInterval          = "poll_interval"
	afIgnoreDeltaTokens     = "ignore_delta_tokens"
	afExcludeSubjects       = "exclude_subjects"
	afBlankSubjectDefault   = "blank_subject_default"
	afExtractAttachments    = "extract_attachments"
	afExcludeAttachmentName = "exclude_attachment_names"
	afBlankAttachmentName   = "blank_attachment_name_default"
	afMaxAttachmentSize     = "max_attachment_size"
	afMailboxConcurrency    = "mailbox_concurrency"
	afRequestConcurrency    = "request_concurrency"
	afMaxBytesInFlight      = "max_bytes_in_flight"
	afDeletionConcurrency   = "deletion_concurrency"
	afCheckpointCache       = "checkpoint_cache"
	afCheckpointKey         = "checkpoint_key"
	afDeltaOffset           = "delta_offset"
	afMaxBodySize           = "max_body_size"
	afProgressInterval      = "progress_interval"
)

// defaultMaxBytesInFlight keeps the benchmark's crawl (docs/benchmarks.md) around 150 MiB of
// peak RSS at any mailbox_concurrency, the Go heap growing to about twice what is held: 64 MiB
// came close to 200 MiB at mailbox_concurrency 16 for 3% more emails/s.
const defaultMaxBytesInFlight = 48 << 20

const regexNote = " Regular expressions use Go (RE2) syntax, match case-insensitively anywhere in the value (anchor them with `^` and `$`), and an invalid one stops the input at start-up naming this field."

func archiveFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewStringListField(afIncludeDomains).
			Description("Internal domains to crawl. Empty: every internal domain (see `include_local_domains`)." + regexNote).
			Default([]any{}).Example([]any{`^corp\.example\.com$`, `\.example\.org$`}),
		service.NewBoolField(afIncludeLocalDomains).
			Description("Also crawl domains Mimecast marks `local` (internal-only domains, e.g. `corp.local`). Off: they are skipped even when `include_domains` matches them.").
			Default(false),
		service.NewStringListField(afIncludeMailboxes).
			Description("Mailboxes (email addresses) to crawl among the users of the selected domains. Empty: all. Aliases are never crawled on their own: their mail is in the main mailbox." + regexNote).
			Default([]any{}).Example([]any{`^(legal|finance)-`}),
		service.NewStringListField(afExcludeMailboxes).
			Description("Mailboxes to leave out, applied after `include_mailboxes`. A mailbox crawled before that becomes excluded gets a `delete` event." + regexNote).
			Default([]any{}).Example([]any{`^noreply@`, `^svc-`}),
		service.NewStringField(afStartDate).
			Description("Earliest received time crawled on a first crawl and on every re-crawl (`ignore_delta_tokens`): RFC 3339 (`2024-01-01T00:00:00Z`), a date (`2024-01-01`, UTC), or a duration back from now (`2160h`). Empty: the whole archive.").
			Default("").Example("2024-01-01").Example("2160h"),
		service.NewStringField(afEndDate).
			Description("Crawl messages received before this time (same formats as `start_date`; a date alone means the whole of that day: `2024-12-31` crawls up to the end of 31 December, UTC), then end the input once everything was acknowledged, so `mimecast-connect run` exits. Empty: crawl up to now and keep crawling what arrives every `poll_interval`.").
			Default("").Example("2025-01-01"),
		service.NewDurationField(afPollInterval).
			Description("Wait between two delta crawls once every mailbox is done.").
			Default("15m").LintRule(connection.LintPositiveDuration(afPollInterval)),
		service.NewBoolField(afIgnoreDeltaTokens).
			Description("Ignore the saved checkpoints on start: the first crawl of this run re-reads every mailbox from `start_date`, re-emits what it finds (as `index`) and emits a `delete` for every message emitted before that is no longer found (deleted from the archive, now before `start_date`, or now excluded). Later crawls of the run are delta crawls again. Use it for a periodic reconciliation, then turn it off.").
			Default(false),
		service.NewStringListField(afExcludeSubjects).
			Description("Messages whose subject (after `blank_subject_default`) matches are not emitted." + regexNote).
			Default([]any{}).Example([]any{`^(automatic reply|out of office)`, `^\[spam\]`}),
		service.NewStringField(afBlankSubjectDefault).
			Description("Subject given to messages without one.").
			Default("(no subject)"),
		service.NewBoolField(afExtractAttachments).
			Description("Also emit each attachment as its own message: the raw bytes, with `mimecast_parent_id`, `mimecast_attachment_name`, `mimecast_attachment_content_type`, `mimecast_attachment_size` and `mimecast_attachment_sha256`. Without it, the email's `attachments` list still describes every attachment (name, type, size, SHA-256).").
			Default(false),
		service.NewStringListField(afExcludeAttachmentName).
			Description("Attachments whose name (after `blank_attachment_name_default`) matches are not emitted; the email still lists them, marked `skipped: excluded`." + regexNote).
			Default([]any{}).Example([]any{`\.(ics|vcf)$`, `^image\d+\.(png|gif)$`}),
		service.NewStringField(afBlankAttachmentName).
			Description("Name given to attachments without one (such as inline images).").
			Default("attachment"),
		service.NewIntField(afMaxAttachmentSize).
			Description("Largest attachment, in bytes, emitted as a message. A larger one is streamed past without being kept, listed as `skipped: too_large`, counted in `mimecast_archive_attachments_skipped` and logged. 0: no limit (memory then grows with the largest attachment).").
			Default(25 << 20).
			LintRule(`root = if this < 0 { ["max_attachment_size must not be negative"] }`),
		service.NewIntField(afMailboxConcurrency).
			Description("Mailboxes crawled at once.").
			Default(2).LintRule(`root = if this < 1 { ["mailbox_concurrency must be at least 1"] }`),
		service.NewIntField(afRequestConcurrency).
			Description("Message content fetches at once per mailbox: at most `mailbox_concurrency` x `request_concurrency` calls are in flight.").
			Default(4).LintRule(`root = if this < 1 { ["request_concurrency must be at least 1"] }`),
		service.NewIntField(afMaxBytesInFlight).
			Description("Most bytes of email documents and extracted attachments the input holds at once, across all mailboxes: being fetched, waiting for their turn, and in batches not yet acknowledged. A fetch first reserves its email's size; when the budget is used up, mailboxes send what they have and wait for acknowledgements before fetching more, so memory stays bounded whatever `mailbox_concurrency`. One email larger than this is still fetched, alone. An output batching policy must then flush within this many bytes or by `period`, or the crawl waits for acknowledgements that never come. 0: no limit (memory then grows with `mailbox_concurrency` x `request_concurrency`).").
			Default(defaultMaxBytesInFlight).Advanced().
			LintRule(`root = if this < 0 { ["max_bytes_in_flight must not be negative"] }`),
		service.NewIntField(afDeletionConcurrency).
			Description("Mailboxes that left the scope whose `delete` events are produced at once.").
			Default(2).LintRule(`root = if this < 1 { ["deletion_concurrency must be at least 1"] }`),
		service.NewStringField(afCheckpointCache).
			Description("A cache resource holding each mailbox's checkpoint and the set of mailboxes crawled. Without one, state lives in memory and every start is a first crawl. Use a `file` cache (or any persistent cache) in production.").
			Optional().Example("mimecast_checkpoints"),
		service.NewStringField(afCheckpointKey).
			Description("Prefix of the cache keys: each mailbox is stored under `<checkpoint_key>_<hash of the address>`, the mailbox set under `<checkpoint_key>_mailboxes`. Give every mimecast_archive input sharing a cache its own key.").
			Default("mimecast_archive"),
		service.NewDurationField(afDeltaOffset).
			Description("Overlap applied to a saved checkpoint: a delta crawl starts at `checkpoint - delta_offset`, to absorb clock skew and mail indexed late. Re-read messages are recognised by id and not emitted twice. May be negative (to skip ahead of a checkpoint written by a clock running behind).").
			Default("10m").Advanced(),
		service.NewIntField(afMaxBodySize).
			Description("Longest text or HTML body kept per email, in bytes; a longer one is cut and the email is marked `truncated`.").
			Default(4 << 20).Advanced().
			LintRule(`root = if this < 1 { ["max_body_size must be at least 1"] }`),
		service.NewDurationField(afProgressInterval).
			Description("How often a crawl logs its progress (mailboxes done of total, emails, attachments, bytes). Empty or `0s`: only at the end of each crawl.").
			Default("1m").Advanced(),
	}
}

// archiveConfig is the parsed configuration of mimecast_archive.
type archiveConfig struct {
	conn             *connection.Conn
	includeDomains   []*regexp.Regexp
	includeLocal     bool
	includeMailboxes []*regexp.Regexp
	excludeMailboxes []*regexp.Regexp
	startDate        time.Time // zero: the whole archive
	endDate          time.Time // zero: crawl on every poll_interval
	pollInterval     time.Duration
	ignoreDelta      bool
	excludeSubjects  []*regexp.Regexp
	blankSubject     string
	extract          bool
	excludeAttNames  []*regexp.Regexp
	blankAttName     string
	maxAttSize       int64 // 0: no limit
	mailboxConc      int
	requestConc      int
	maxBytesInFlight int64 // 0: no limit
	deletionConc     int
	checkpointName   string
	checkpointKey    string
	deltaOffset      time.Duration
	maxBodySize      int
	progressInterval time.Duration
}

// archiveConfigFromParsed parses the component's config as its constructor does. With mgr nil it only
// validates (for lint): no resource is looked up and no client is made.
func archiveConfigFromParsed(conf *service.ParsedConfig, mgr *service.Resources, now time.Time) (*archiveConfig, error) {
	c := &archiveConfig{}
	var err error
	for name, dst := range map[string]*[]*regexp.Regexp{
		afIncludeDomains: &c.includeDomains, afIncludeMailboxes: &c.includeMailboxes, afExcludeMailboxes: &c.excludeMailboxes,
		afExcludeSubjects: &c.excludeSubjects, afExcludeAttachmentName: &c.excludeAttNames,
	} {
		if *dst, err = regexListField(conf, name); err != nil {
			return nil, err
		}
	}
	if c.includeLocal, err = conf.FieldBool(afIncludeLocalDomains); err != nil {
		return nil, err
	}
	if c.startDate, err = dateField(conf, afStartDate, now); err != nil {
		return nil, err
	}
	if c.endDate, err = dateField(conf, afEndDate, now); err != nil {
		return nil, err
	}
	if !c.endDate.IsZero() && !c.endDate.After(c.startDate) {
		return nil, fmt.Errorf("%s: the crawl would end at %s, not after %s %s: put end_date after start_date", afEndDate, c.endDate.Format(time.RFC3339), afStartDate, c.startDate.Format(time.RFC3339))
	}
	if c.pollInterval, err = conf.FieldDuration(afPollInterval); err != nil {
		return nil, err
	}
	if c.pollInterval <= 0 {
		return nil, fmt.Errorf("%s: %v is not positive: use a duration such as 15m", afPollInterval, c.pollInterval)
	}
	if c.ignoreDelta, err = conf.FieldBool(afIgnoreDeltaTokens); err != nil {
		return nil, err
	}
	if c.blankSubject, err = conf.FieldString(afBlankSubjectDefault); err != nil {
		return nil, err
	}
	if c.extract, err = conf.FieldBool(afExtractAttachments); err != nil {
		return nil, err
	}
	if c.blankAttName, err = conf.FieldString(afBlankAttachmentName); err != nil {
		return nil, err
	}
	maxAtt, err := conf.FieldInt(afMaxAttachmentSize)
	if err != nil {
		return nil, err
	}
	if maxAtt < 0 {
		return nil, fmt.Errorf("%s: %d is negative: use 0 for no limit", afMaxAttachmentSize, maxAtt)
	}
	c.maxAttSize = int64(maxAtt)
	budget, err := conf.FieldInt(afMaxBytesInFlight)
	if err != nil {
		return nil, err
	}
	if budget < 0 {
		return nil, fmt.Errorf("%s: %d is negative: use 0 for no limit", afMaxBytesInFlight, budget)
	}
	c.maxBytesInFlight = int64(budget)
	for name, dst := range map[string]*int{afMailboxConcurrency: &c.mailboxConc, afRequestConcurrency: &c.requestConc, afDeletionConcurrency: &c.deletionConc, afMaxBodySize: &c.maxBodySize} {
		if *dst, err = conf.FieldInt(name); err != nil {
			return nil, err
		}
		if *dst < 1 {
			return nil, fmt.Errorf("%s: %d is below 1", name, *dst)
		}
	}
	if conf.Contains(afCheckpointCache) {
		if c.checkpointName, err = conf.FieldString(afCheckpointCache); err != nil {
			return nil, err
		}
		if mgr != nil && !mgr.HasCache(c.checkpointName) {
			return nil, fmt.Errorf("%s: cache resource %q is not defined: add it under cache_resources or pass its file with -r", afCheckpointCache, c.checkpointName)
		}
	}
	if c.checkpointKey, err = conf.FieldString(afCheckpointKey); err != nil {
		return nil, err
	}
	if c.checkpointKey == "" || strings.ContainsAny(c.checkpointKey, `/\`) {
		return nil, fmt.Errorf("%s: %q must be non-empty and hold no path separator (the file cache turns it into a file name)", afCheckpointKey, c.checkpointKey)
	}
	if c.deltaOffset, err = conf.FieldDuration(afDeltaOffset); err != nil {
		return nil, err
	}
	if s, _ := conf.FieldString(afProgressInterval); s != "" {
		if c.progressInterval, err = conf.FieldDuration(afProgressInterval); err != nil {
			return nil, err
		}
	}
	// Last: FromParsed takes a reference on the shared client, which an error above would leak.
	if mgr == nil {
		return c, connection.Validate(conf)
	}
	if c.conn, err = connection.FromParsed(conf, mgr, Name); err != nil {
		return nil, err
	}
	return c, nil
}

// regexListField compiles a list of case-insensitive regular expressions.
func regexListField(conf *service.ParsedConfig, name string) ([]*regexp.Regexp, error) {
	list, err := conf.FieldStringList(name)
	if err != nil {
		return nil, err
	}
	out := make([]*regexp.Regexp, 0, len(list))
	for i, expr := range list {
		if slices.Contains(list[:i], expr) {
			continue
		}
		re, err := regexp.Compile("(?i)" + expr)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: invalid regular expression %q: %w", name, i, expr, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func matchesAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// dateField parses start_date / end_date: RFC 3339, a bare date or date-time (UTC), or a
// duration back from now.
func dateField(conf *service.ParsedConfig, name string, now time.Time) (time.Time, error) {
	s, err := conf.FieldString(name)
	if err != nil {
		return time.Time{}, err
	}
	t, dateOnly, err := parseArchiveDate(s, now)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", name, err)
	}
	if dateOnly && name == afEndDate {
		// end_date is exclusive: a date alone means up to the end of that day.
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// parseArchiveDate parses a start_date or end_date; dateOnly says s was a date without a time.
func parseArchiveDate(s string, now time.Time) (t time.Time, dateOnly bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), layout == "2006-01-02", nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d).UTC(), false, nil
	}
	return time.Time{}, false, fmt.Errorf("%q is neither an RFC 3339 time, a date (2006-01-02) nor a positive duration back from now (2160h)", s)
}
