// Package threats is the mimecast_threats input: it polls each selected Mimecast feed as one or
// more sources, dedupes, selects and filters their records, and moves each source's checkpoint
// only past batches the pipeline acknowledged.
package threats

import (
	"fmt"
	"slices"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/configlint"
	"github.com/mimecast-connect/mimecast-connect/internal/connection"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// Name is the component's name in a config.
const Name = "mimecast_threats"

// NewBatchInput parses a mimecast_threats config and builds the input; the input's
// auto_replay_nacks field is applied by the input's queue (see batchinput.Queue.ReplayAsConfigured).
func NewBatchInput(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchInput, error) {
	cfg, err := threatsConfigFromParsed(conf, mgr)
	if err != nil {
		return nil, err
	}
	if err := connection.ZeroSeries(conf, mgr, Endpoints); err != nil {
		return nil, err
	}
	in := newThreatsInput(cfg, mgr)
	if err := in.queue.ReplayAsConfigured(conf); err != nil {
		return nil, err
	}
	return in, nil
}

// The constructor's validation, for lint (see internal/configlint).
func init() {
	configlint.Register(Name, "input", Spec, func(conf *service.ParsedConfig) error {
		_, err := threatsConfigFromParsed(conf, nil)
		return err
	})
}

// Spec is the documented config spec of mimecast_threats.
func Spec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Version("0.1.0").
		Summary("Polls Mimecast API 2.0 for threats: threat events, URL / attachment / impersonation protect logs, held messages and SIEM batch events, once each, checkpointed.").
		Description(threatsDescription).
		Fields(connection.Fields()...).
		LintRule(configlint.LintRule(Name)).
		Fields(threatsFields()...).
		Field(service.NewAutoRetryNacksToggleField()).
		Example("Threats to stdout", "Every threat of the last day and then every new one, from the simulated tenant of `mimecast-connect demo`.", `
input:
  mimecast_threats:
    api_url: ${MIMECAST_API_URL:https://api.services.mimecast.com}
    client_id: ${MIMECAST_CLIENT_ID}
    client_secret: ${MIMECAST_CLIENT_SECRET}
    feeds: [threat_events, url_protect, attachment_protect, impersonation_protect]
    poll_interval: 1m
    lookback: 24h
output:
  stdout: {}
`).
		Example("Malicious clicks only, checkpointed", "URL Protect clicks that were blocked, excluding one noisy user, with checkpoints in a file cache so a restart resumes where it stopped.", `
input:
  mimecast_threats:
    client_id: ${MIMECAST_CLIENT_ID}
    client_secret: ${MIMECAST_CLIENT_SECRET}
    feeds: [url_protect]
    statuses: [blocked]
    filters:
      - expression: 'event.scanResult == "malicious"'
        action: include
      - expression: 'event.userEmailAddress == "scanner@example.com"'
        action: exclude
    checkpoint_cache: checkpoints
cache_resources:
  - label: checkpoints
    file:
      directory: ./state
`)
}

const threatsDescription = `
Each selected feed is polled on its own, one API page (or SIEM batch file chunk) at a time; a page is
one batch with one acknowledgement. A feed's checkpoint (its time cursor or page token, plus the ids of
the events of the window being read) is written to ` + "`checkpoint_cache`" + ` only after the batch was acknowledged by
the output, so a crash or a restart replays at most the unacknowledged pages, and those ids
keep replays and Mimecast's own repeats from being emitted twice. No record order is assumed: a
window's cursor moves to the window's end only once the whole window was read, whether pages come
newest first, oldest first or unordered, and a page token Mimecast refuses restarts the window from
its first page. A SIEM type's checkpoint is its listing's ` + "`@nextPage`" + ` plus the files of the
page delivered whole and the lines delivered of the file being read; once it has one, the listing
is never queried by date again (the date filter is day-granular). Order across feeds and across the
files of a SIEM listing page is not promised.

### Message body and metadata

The body is the record as Mimecast sent it (plus ` + "`content`" + ` when ` + "`content_view`" + ` is on).
Metadata:

- ` + "`mimecast_feed`" + `: the feed the record came from
- ` + "`mimecast_event_id`" + `: the event's key, what the input dedupes on and what a downstream dedupe
  should use (see the table below)
- ` + "`mimecast_record_id`" + `: the record's own Mimecast id, when it has one
- ` + "`mimecast_event_time`" + `: the record's time, RFC 3339
- ` + "`mimecast_message_id`" + `: the email's Message-ID, when the record has one; with ` + "`content_view`" + `,
  also for a held message, from its archived email
- ` + "`mimecast_content_id`" + `: the id the archive's content endpoints take for the email, when the
  record carries one (held messages); ` + "`content_view`" + ` uses it before the Message-ID
- ` + "`mimecast_content`" + `: with ` + "`content_view`" + `, what became of the content: ` + "`attached`" + `, ` + "`not_archived`" + `,
  ` + "`refused`" + ` (Mimecast answered 403 for this message: a legal hold, a Smart Tag, a message outside the
  role's scope; after 3 distinct messages refused in a row, or at the first when the call ` + "`check`" + `
  makes about a made-up message is refused too, the lookup is closed for every event for 5 minutes,
  and any success reopens it) or ` + "`failed`" + ` (an error that outlived the retries, logged)
- ` + "`mimecast_threat_type`" + `, ` + "`mimecast_status`" + `, ` + "`mimecast_source`" + `: the normalised selections (see ` + "`threat_types`" + `)

The event key per feed. A Mimecast id names a detection or a policy hit, which several events can
share (two impersonation log entries of one id, minutes apart, for two messages), so an id alone is
not an event:

| feed | ` + "`mimecast_event_id`" + ` |
|---|---|
| ` + "`threat_events`" + `, ` + "`impersonation_protect`" + `, ` + "`held_messages`" + ` | SHA-256 of the record's ` + "`id`" + `, its time and its Message-ID |
| ` + "`url_protect`" + `, ` + "`attachment_protect`" + ` (no ids) | SHA-256 of the record's canonical JSON |
| ` + "`siem`" + ` (every type: ` + "`aggregateId`" + ` groups several lines, and ` + "`processingId`" + ` is shared by several ` + "`delivery`" + ` lines) | SHA-256 of the line's canonical JSON |

The same record served twice has the same key and is emitted once; records differing in time or
message are distinct events.

Which email id each feed offers, and so what ` + "`content_view`" + ` and ` + "`mimecast_enrich`" + ` can work with:

| feed | ` + "`mimecast_message_id`" + ` | ` + "`mimecast_content_id`" + ` |
|---|---|---|
| ` + "`threat_events`" + `, ` + "`url_protect`" + `, ` + "`attachment_protect`" + `, ` + "`impersonation_protect`" + ` | the record's ` + "`messageId`" + ` | - |
| ` + "`held_messages`" + ` (hold queue) | none in the record; with ` + "`content_view`" + `, the archived email's | the record's ` + "`id`" + ` |
| ` + "`held_messages`" + ` (release log) | none | none: its entries name no email |
| ` + "`siem`" + ` | the line's ` + "`messageId`" + ` (some receipt and journal lines have none) | - |

A record that cannot be decoded is emitted as an error-flagged message with the raw text as its body
and ` + "`mimecast_feed`" + ` set, so a ` + "`switch`" + ` or ` + "`reject_errored`" + ` output can route it to a
dead letter queue. It is counted in ` + "`mimecast_threats_decode_errors`" + `.

### Metrics

Per feed: ` + "`mimecast_threats_emitted`" + `, ` + "`mimecast_threats_filtered`" + `,
` + "`mimecast_threats_duplicates`" + `, ` + "`mimecast_threats_decode_errors`" + `,
` + "`mimecast_threats_filter_errors`" + `, ` + "`mimecast_threats_fetch_errors`" + `,
` + "`mimecast_threats_pagination_cycles`" + ` (a next page token that led back to a page already read: the
window is read again from its start after a back-off, and the walk never loops; for SIEM also a listing
page that makes no progress, which is read again after a back-off),
` + "`mimecast_threats_checkpoint_lag_seconds`" + ` (labels ` + "`feed`" + ` and ` + "`source`" + `: now minus the cursor),
` + "`mimecast_threats_auth_failing`" + ` (1 while Mimecast refuses the credentials: an ERROR when it starts and every
5 minutes while it lasts, with back-off between tries), and the client's ` + "`mimecast_api_*`" + ` metrics. Every
per-feed counter exists from the start, at zero, so alerts on error counters can be written and tested before
the first error.

### Readiness

While Mimecast refuses every feed of the input for good (the credentials, or the permission for each
feed's product), the input reports itself as not connected: ` + "`/ready`" + ` answers 503 with the reason,
Benthos counts ` + "`input_connection_failed`" + ` and logs the reason as an ERROR once a minute. It is ready again
as soon as one feed can be read. A feed refused while others deliver leaves the input ready; its ERROR
and the metrics above say which.
`

// CacheFields are the fields that name a cache resource.
func CacheFields() []string { return []string{tfCheckpointCache} }

// Endpoints lists the calls the features conf turns on make: one list call per feed (two for
// held messages), and the archived-content calls of content_view. Feeds the component does not
// know are left out; lint reports them.
func Endpoints(conf *service.ParsedConfig) ([]mimecast.Call, error) {
	feeds, err := conf.FieldStringList(tfFeeds)
	if err != nil {
		return nil, err
	}
	var calls []mimecast.Call
	for _, feed := range allFeeds {
		if !slices.Contains(feeds, feed) {
			continue
		}
		if feed == feedSIEM {
			types, err := conf.FieldStringList(tfSIEMEventTypes)
			if err != nil {
				return nil, err
			}
			if len(types) == 0 {
				return nil, fmt.Errorf("%s: empty while feeds has siem: name at least one SIEM event type", tfSIEMEventTypes)
			}
		}
		calls = append(calls, mimecast.CallsOf(feed, feedEndpoints[feed]...)...)
	}
	contentView, err := conf.FieldBool(tfContentView)
	if err != nil {
		return nil, err
	}
	if contentView {
		calls = append(calls, mimecast.CallsOf(tfContentView, mimecast.ArchivedContentEndpoints()...)...)
	}
	return calls, nil
}

// SIEMTypes are the SIEM event types conf reads, in its order.
func SIEMTypes(conf *service.ParsedConfig) ([]string, error) {
	return conf.FieldStringList(tfSIEMEventTypes)
}
