package threats

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/celfilter"
	"github.com/mimecast-connect/mimecast-connect/internal/connection"
)

// Feed names accepted in `feeds`.
const (
	feedThreatEvents  = "threat_events"
	feedURLProtect    = "url_protect"
	feedAttachment    = "attachment_protect"
	feedImpersonation = "impersonation_protect"
	feedHeld          = "held_messages"
	feedSIEM          = "siem"
)

var allFeeds = []string{feedThreatEvents, feedURLProtect, feedAttachment, feedImpersonation, feedHeld, feedSIEM}

// siemEventTypes are the Cloud Gateway SIEM event types of the SIEM batch endpoint, as Mimecast
// documents them for /siem/v1/batch/events/cg.
var siemEventTypes = []string{
	"receipt", "process", "delivery", "av", "spam", "internal email protect",
	"impersonation protect", "url protect", "attachment protect", "journal",
}

// defaultSIEMEventTypes are the SIEM types that describe a threat rather than ordinary mail flow.
var defaultSIEMEventTypes = []string{
	"av", "spam", "internal email protect", "impersonation protect", "url protect", "attachment protect",
}

// siemRetention is how far back the SIEM batch endpoint keeps events.
const siemRetention = 7 * 24 * time.Hour

const (
	tfFeeds            = "feeds"
	tfSIEMEventTypes   = "siem_event_types"
	tfThreatTypes      = "threat_types"
	tfStatuses         = "statuses"
	tfThreatSources    = "threat_sources"
	tfPollInterval     = "poll_interval"
	tfLookback         = "lookback"
	tfOverlap          = "overlap"
	tfBackfillSlice    = "backfill_slice"
	tfBackfillConc     = "backfill_concurrency"
	tfContentView      = "content_view"
	tfFilters          = "filters"
	tfCheckpointCache  = "checkpoint_cache"
	tfCheckpointKey    = "checkpoint_key"
	tfMaxPagesInFlight = "max_pages_in_flight"
	tfMaxBytesInFlight = "max_bytes_in_flight"
)

const selectionTable = `

| feed | ` + "`threat_types`" + ` | ` + "`statuses`" + ` | ` + "`threat_sources`" + ` |
| --- | --- | --- | --- |
| ` + "`threat_events`" + ` | sent as ` + "`analysis`" + ` (malware, phishing, spam, suspicious, unwanted) | sent as ` + "`status`" + ` (blocked, rejected, delivered, held, bounced, unknown) | sent as ` + "`source`" + ` (email, url) |
| ` + "`url_protect`" + ` | local: always ` + "`url`" + ` | local: blocked, warned, allowed (the click's action) | local: ` + "`url_protect`" + ` |
| ` + "`attachment_protect`" + ` | local: ` + "`malware`" + ` when the result is malicious, else ` + "`attachment`" + ` | local: from ` + "`actionTriggered`" + ` (a block, reject or quarantine: blocked; a hold: held; else, a release or none: delivered), and without it from the result (malicious: blocked, else delivered) | local: ` + "`attachment_protect`" + ` |
| ` + "`impersonation_protect`" + ` | local: always ` + "`impersonation`" + ` | local: the action (held, bounced, tagged, ...; ` + "`none`" + ` is delivered) | local: ` + "`impersonation_protect`" + ` |
| ` + "`held_messages`" + ` | local: ` + "`spam`" + ` for spam holds, else ` + "`policy`" + ` | hold queue: held; release log: released or rejected | local: ` + "`hold_queue`" + ` or ` + "`release_log`" + ` |
| ` + "`siem`" + ` | local: av ` + "`malware`" + `; attachment protect ` + "`malware`" + ` when its subtype is Malicious, else ` + "`attachment`" + `; url protect ` + "`url`" + `; impersonation protect ` + "`impersonation`" + `; spam ` + "`spam`" + `; internal email protect ` + "`internal`" + `; mail-flow types none | local, the first field that says what happened: the line's action or subtype (Rej rejected, Hld held, Acc or None delivered, Block blocked, Bnc bounced, Sdbx sandboxed, Allow allowed, Warn warned, Tag tagged), a delivery line's ` + "`delivered`" + ` (true delivered, false bounced), a ` + "`holdReason`" + ` (held), ` + "`rejectionType`" + ` (rejected) or ` + "`blockReason`" + ` (blocked; placeholders such as n/a say nothing), ` + "`taggedMalicious`" + ` true (tagged), the verdict (av ` + "`virusFound`" + `: blocked; attachment protect Malicious: blocked, Safe: delivered; internal email protect ` + "`scanResults`" + ` Clean: delivered, a block or malicious result: blocked); a detection line that says nothing more is ` + "`detected`" + ` | local: ` + "`siem`" + ` |

An empty list selects everything. Values are compared case-insensitively. A value no feed sends (a typo such as ` + "`malwre`" + `, or a status such as ` + "`quarantined`" + ` that no feed reports) is refused by ` + "`lint`" + `, ` + "`check`" + ` and start-up, naming the nearest known value. So is a feed none of whose records can pass the selections (` + "`threat_types: [url]`" + ` with ` + "`threat_sources: [email]`" + ` on ` + "`threat_events`" + `): it would be polled for nothing.`

func threatsFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewStringListField(tfFeeds).
			Description("Which Mimecast sources to poll: `threat_events` (`GET /threats/v1/events`), `url_protect`, `attachment_protect`, `impersonation_protect` (TTP logs), `held_messages` (the hold queue and the held-release log) and `siem` (SIEM batch events, see `siem_event_types`).").
			Default([]any{feedThreatEvents}).
			Example([]any{feedThreatEvents, feedURLProtect, feedAttachment}).
			LintRule(connection.LintOneOf(allFeeds, "unknown feed")),
		service.NewStringListField(tfSIEMEventTypes).
			Description("SIEM event types to read when `feeds` has `siem`: any of " + strings.Join(siemEventTypes, ", ") + ". The default is the threat types.").
			Default(toAnyList(defaultSIEMEventTypes)).
			LintRule(connection.LintOneOf(siemEventTypes, "unknown SIEM event type")),
		service.NewStringListField(tfThreatTypes).
			Description("Detection categories to emit, such as malware, phishing, spam, impersonation, url. Passed to the API where it can filter, applied locally where it cannot:" + selectionTable).
			Default([]any{}).Example([]any{"malware", "phishing"}),
		service.NewStringListField(tfStatuses).
			Description("Statuses to emit, such as held, released, rejected, bounced, delivered, blocked (see the table in `threat_types`).").
			Default([]any{}).Example([]any{"held", "blocked"}),
		service.NewStringListField(tfThreatSources).
			Description("Detection sources to emit, such as email and url for `threat_events` (see the table in `threat_types`).").
			Default([]any{}).Example([]any{"email"}),
		service.NewDurationField(tfPollInterval).
			Description("How long to wait, once a feed is caught up, before polling it again. Any positive duration: the client paces itself on Mimecast's quota headers.").
			Default("1m").LintRule(connection.LintPositiveDuration(tfPollInterval)),
		service.NewDurationField(tfLookback).
			Description("Where the first run (and a restart without a checkpoint) starts. A lookback past a feed's retention (7 days for SIEM) starts at the retention limit, with a warning.").
			Default("24h").LintRule(connection.LintPositiveDuration(tfLookback)),
		service.NewDurationField(tfOverlap).
			Description("Each poll re-reads this much before the feed's cursor, to catch records Mimecast indexes late; the ids seen inside it keep them from being emitted twice.").
			Default("5m").Advanced(),
		service.NewDurationField(tfBackfillSlice).
			Description("How a long backlog of a window feed (a lookback, or a feed far behind after an outage) is read. A window longer than this is first asked for its first page. When Mimecast says it holds more than 10 pages (or does not say how many), the window is cut into slices and `backfill_concurrency` of them are read at once, each page by page on its own, so a backlog drains at several pages per round trip to Mimecast instead of one. The slices hold about 10 pages each by the record count the first page reports (`totalCount`), and are this long when it reports none. A quiet window costs its one call, a backlog one call more than its pages and slices. Records of different slices are emitted as their pages arrive, so they interleave: no order is promised, within a slice or across slices (Mimecast promises none either). A feed's checkpoint names the slices being read and moves only past slices read whole and acknowledged; ids at slice boundaries and the first page's records, read again in their slice, are deduplicated. A window within this span (every poll once the feed caught up) is walked page by page. Must be longer than `overlap`; `0s` walks every window page by page. SIEM batch files are not affected.").
			Default("1h").Advanced(),
		service.NewIntField(tfBackfillConc).
			Description("How many slices of a backlog (see `backfill_slice`) one feed reads at once, each with one API call in flight. The calls of every feed share the client's `max_in_flight` and its pacing on Mimecast's quota headers, so a higher value reaches the quota sooner but never runs past it. `1` reads one slice after the other.").
			Default(8).Advanced().
			LintRule(`root = if this < 1 { ["backfill_concurrency must be at least 1"] }`),
		service.NewBoolField(tfContentView).
			Description("For events with a message id, fetch the message's headers and body from the archive and add them as `content`. Needs the Content View permission; without it (403) a warning is logged once, `mimecast_threats_content_forbidden` counts, and the events are emitted without content.").
			Default(false),
		service.NewObjectListField(tfFilters,
			service.NewStringField("expression").
				Description("A CEL expression of type bool over `event` (the record as a map), `feed`, `threat_type`, `status`, `source`, `message_id` (strings) and `event_time` (a timestamp).").
				Example(`event.scanResult == "malicious"`).
				Example(`threat_type == "impersonation" && event_time > timestamp("2024-01-01T00:00:00Z")`),
			service.NewStringEnumField("action", "include", "exclude").
				Description("`include`: emit only events that match at least one include filter. `exclude`: drop events that match.").
				Default("include"),
		).Description("CEL filters. An event is emitted when there is no include filter or it matches at least one, and it matches no exclude filter. An evaluation error on an event (such as a missing key) counts as no match and is counted in `mimecast_threats_filter_errors`.").
			Default([]any{}),
		service.NewStringField(tfCheckpointCache).
			Description("A cache resource holding each feed's checkpoint. Without one, state lives in memory and a restart re-reads the lookback. Use a `file` cache (or any persistent cache) in production.").
			Optional(),
		service.NewStringField(tfCheckpointKey).
			Description("Prefix of the cache keys; each feed is stored under `<checkpoint_key>_<feed>`. Give every mimecast_threats input sharing a cache its own key.").
			Default("mimecast_threats"),
		service.NewIntField(tfMaxPagesInFlight).
			Description("How many pages of one feed may wait for acknowledgement at once. The checkpoint only ever moves past pages that were all acknowledged.").
			Default(4).Advanced().
			LintRule(`root = if this < 1 { ["max_pages_in_flight must be at least 1"] }`),
		service.NewIntField(tfMaxBytesInFlight).
			Description("Most bytes of records the input holds at once, across all feeds, in batches waiting for acknowledgement: when the budget is used up, feeds wait for acknowledgements before reading on, so memory stays bounded whatever the records' sizes and `max_pages_in_flight`. A SIEM batch also closes at 4 MiB of records, so one large file does not become one large batch; a batch larger than the budget still goes, alone. An output batching policy must flush within this many bytes or by `period`, or the input waits for acknowledgements that never come. 0: no limit.").
			Default(defaultMaxBytesInFlight).Advanced().
			LintRule(`root = if this < 0 { ["max_bytes_in_flight must not be negative"] }`),
	}
}

// defaultMaxBytesInFlight keeps a drain of SIEM files of 4 MiB lines within a few hundred MiB.
const defaultMaxBytesInFlight = 64 << 20

func toAnyList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// threatsConfig is the parsed configuration of mimecast_threats.
type threatsConfig struct {
	conn             *connection.Conn
	feeds            []string
	siemTypes        []string
	threatTypes      []string
	statuses         []string
	sources          []string
	pollInterval     time.Duration
	lookback         time.Duration
	overlap          time.Duration
	backfillSlice    time.Duration
	backfillConc     int
	contentView      bool
	filters          *celfilter.Set
	checkpointName   string
	checkpointKey    string
	maxPagesInFlight int
	maxBytesInFlight int64
}

// threatsConfigFromParsed parses the component's config as its constructor does. With mgr nil it only
// validates (for lint): no resource is looked up and no client is made.
func threatsConfigFromParsed(conf *service.ParsedConfig, mgr *service.Resources) (*threatsConfig, error) {
	c := &threatsConfig{}
	var err error
	if c.feeds, err = conf.FieldStringList(tfFeeds); err != nil {
		return nil, err
	}
	if len(c.feeds) == 0 {
		return nil, fmt.Errorf("%s: empty: name at least one of %s", tfFeeds, strings.Join(allFeeds, ", "))
	}
	for _, f := range c.feeds {
		if !slices.Contains(allFeeds, f) {
			return nil, fmt.Errorf("%s: unknown feed %q: use one of %s", tfFeeds, f, strings.Join(allFeeds, ", "))
		}
	}
	c.feeds = dedupStrings(c.feeds)
	if c.siemTypes, err = conf.FieldStringList(tfSIEMEventTypes); err != nil {
		return nil, err
	}
	for _, t := range c.siemTypes {
		if !slices.Contains(siemEventTypes, t) {
			return nil, fmt.Errorf("%s: unknown SIEM event type %q: use any of %s", tfSIEMEventTypes, t, strings.Join(siemEventTypes, ", "))
		}
	}
	if slices.Contains(c.feeds, feedSIEM) && len(c.siemTypes) == 0 {
		return nil, fmt.Errorf("%s: empty while feeds has siem: name at least one SIEM event type", tfSIEMEventTypes)
	}
	c.siemTypes = dedupStrings(c.siemTypes)
	for _, sel := range []struct {
		name  string
		dst   *[]string
		known []string
	}{{tfThreatTypes, &c.threatTypes, knownThreatTypes}, {tfStatuses, &c.statuses, knownStatuses}, {tfThreatSources, &c.sources, knownSources}} {
		list, err := conf.FieldStringList(sel.name)
		if err != nil {
			return nil, err
		}
		for i := range list {
			list[i] = strings.ToLower(strings.TrimSpace(list[i]))
		}
		if err := checkSelection(sel.name, list, sel.known); err != nil {
			return nil, err
		}
		*sel.dst = dedupStrings(list)
	}
	if err := checkFeedsSelectable(c.feeds, c.threatTypes, c.statuses, c.sources); err != nil {
		return nil, err
	}
	for name, dst := range map[string]*time.Duration{tfPollInterval: &c.pollInterval, tfLookback: &c.lookback} {
		d, err := conf.FieldDuration(name)
		if err != nil {
			return nil, err
		}
		if d <= 0 {
			return nil, fmt.Errorf("%s: %v is not positive: use a duration such as 1m", name, d)
		}
		*dst = d
	}
	if c.overlap, err = conf.FieldDuration(tfOverlap); err != nil {
		return nil, err
	}
	if c.overlap < 0 {
		return nil, fmt.Errorf("%s: %v is negative: use 0s for no overlap", tfOverlap, c.overlap)
	}
	if c.backfillSlice, err = conf.FieldDuration(tfBackfillSlice); err != nil {
		return nil, err
	}
	if c.backfillSlice < 0 || (c.backfillSlice > 0 && c.backfillSlice <= c.overlap) {
		return nil, fmt.Errorf("%s: %v is not longer than %s (%v): the window of every poll would be cut up; use a longer slice, or 0s for none", tfBackfillSlice, c.backfillSlice, tfOverlap, c.overlap)
	}
	if c.backfillConc, err = conf.FieldInt(tfBackfillConc); err != nil {
		return nil, err
	}
	if c.backfillConc < 1 {
		return nil, fmt.Errorf("%s: %d is below 1: use 1 to read one slice at a time", tfBackfillConc, c.backfillConc)
	}
	if c.contentView, err = conf.FieldBool(tfContentView); err != nil {
		return nil, err
	}
	if c.filters, err = parseFilters(conf); err != nil {
		return nil, err
	}
	if conf.Contains(tfCheckpointCache) {
		if c.checkpointName, err = conf.FieldString(tfCheckpointCache); err != nil {
			return nil, err
		}
		if mgr != nil && !mgr.HasCache(c.checkpointName) {
			return nil, fmt.Errorf("%s: cache resource %q is not defined: add it under cache_resources or pass its file with -r", tfCheckpointCache, c.checkpointName)
		}
	}
	if c.checkpointKey, err = conf.FieldString(tfCheckpointKey); err != nil {
		return nil, err
	}
	if c.checkpointKey == "" || strings.ContainsAny(c.checkpointKey, `/\`) {
		return nil, fmt.Errorf("%s: %q must be non-empty and hold no path separator (the file cache turns it into a file name)", tfCheckpointKey, c.checkpointKey)
	}
	if c.maxPagesInFlight, err = conf.FieldInt(tfMaxPagesInFlight); err != nil {
		return nil, err
	}
	if c.maxPagesInFlight < 1 {
		return nil, fmt.Errorf("%s: %d is below 1", tfMaxPagesInFlight, c.maxPagesInFlight)
	}
	maxBytes, err := conf.FieldInt(tfMaxBytesInFlight)
	if err != nil {
		return nil, err
	}
	if maxBytes < 0 {
		return nil, fmt.Errorf("%s: %d is negative: use 0 for no limit", tfMaxBytesInFlight, maxBytes)
	}
	c.maxBytesInFlight = int64(maxBytes)
	if mgr == nil {
		return c, connection.Validate(conf)
	}
	if c.conn, err = connection.FromParsed(conf, mgr, Name); err != nil {
		return nil, err
	}
	return c, nil
}

func parseFilters(conf *service.ParsedConfig) (*celfilter.Set, error) {
	objs, err := conf.FieldObjectList(tfFilters)
	if err != nil {
		return nil, err
	}
	rules := make([]celfilter.Rule, 0, len(objs))
	for i, o := range objs {
		expr, err := o.FieldString("expression")
		if err != nil {
			return nil, fmt.Errorf("%s[%d].expression: %w", tfFilters, i, err)
		}
		action, err := o.FieldString("action")
		if err != nil {
			return nil, fmt.Errorf("%s[%d].action: %w", tfFilters, i, err)
		}
		rules = append(rules, celfilter.Rule{Expression: expr, Action: action})
	}
	set, err := celfilter.Compile(rules)
	if err != nil {
		return nil, err
	}
	return set, nil
}

func dedupStrings(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
