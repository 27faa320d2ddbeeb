// Package enrich is the mimecast_enrich processor: it looks up the Message-ID of each event in
// Mimecast (tracking, message info, archived content), caches and shares the results, and
// merges them into the event.
package enrich

import (
	"slices"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/configlint"
	"github.com/mimecast-connect/mimecast-connect/internal/connection"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// Name is the component's name in a config.
const Name = "mimecast_enrich"

// NewProcessor parses a mimecast_enrich config and builds the processor.
func NewProcessor(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchProcessor, error) {
	cfg, err := enrichConfigFromParsed(conf, mgr)
	if err != nil {
		return nil, err
	}
	if err := connection.ZeroSeries(conf, mgr, Endpoints); err != nil {
		return nil, err
	}
	return newEnrichProcessor(cfg, mgr), nil
}

// CacheFields are the fields that name a cache resource.
func CacheFields() []string { return []string{efCache} }

// Endpoints lists the calls the lookups of conf make. Lookups the component does not know are
// left out; lint reports them.
func Endpoints(conf *service.ParsedConfig) ([]mimecast.Call, error) {
	names, err := conf.FieldStringList(efLookups)
	if err != nil {
		return nil, err
	}
	var calls []mimecast.Call
	for _, l := range allLookups {
		if slices.Contains(names, l) {
			calls = append(calls, mimecast.CallsOf(l, lookupEndpoints[l]...)...)
		}
	}
	return calls, nil
}

// lookupEndpoints are the endpoints each lookup calls.
var lookupEndpoints = map[string][]string{
	lookupTracking:    {mimecast.PathMessageFinderSearch},
	lookupMessageInfo: {mimecast.PathMessageFinderSearch, mimecast.PathMessageInfo},
	lookupContent:     mimecast.ArchivedContentEndpoints(),
}

// The constructor's validation, for lint (see internal/configlint).
func init() {
	configlint.Register(Name, "processor", Spec, func(conf *service.ParsedConfig) error {
		_, err := enrichConfigFromParsed(conf, nil)
		return err
	})
}

// Spec is the documented config spec of mimecast_enrich.
func Spec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Version("0.1.0").
		Summary("Adds what Mimecast knows about an email (Message Finder tracking, delivery and spam details, archived content) to any event that carries its Message-ID.").
		Description(enrichDescription).
		Fields(connection.Fields()...).
		LintRule(configlint.LintRule(Name)).
		Fields(enrichFields()...).
		Example("Enrich threats", "Every threat event gets the tracking and delivery details of its email; results are cached for 10 minutes, so a burst of alerts about one message costs one lookup.", `
input:
  mimecast_threats:
    client_id: ${MIMECAST_CLIENT_ID}
    client_secret: ${MIMECAST_CLIENT_SECRET}
    feeds: [threat_events]
pipeline:
  processors:
    - mimecast_enrich:
        client_id: ${MIMECAST_CLIENT_ID}
        client_secret: ${MIMECAST_CLIENT_SECRET}
        lookups: [tracking, message_info]
        cache: mimecast_lookups
        cache_ttl: 10m
cache_resources:
  - label: mimecast_lookups
    memory:
      default_ttl: 10m
output:
  stdout: {}
`).
		Example("Enrich alerts from another source", "A SIEM alert that names the email in `MsgId` gets its archived headers and body; events Mimecast knows nothing about get `found: false`, and lookups that fail are routed to a dead letter file.", `
input:
  http_server:
    path: /alerts
pipeline:
  processors:
    - mimecast_enrich:
        client_id: ${MIMECAST_CLIENT_ID}
        client_secret: ${MIMECAST_CLIENT_SECRET}
        message_id: ${! json("MsgId") }
        lookups: [tracking, content]
        target_field: enrichment.mimecast
        on_forbidden: fail
output:
  switch:
    cases:
      - check: errored()
        output:
          file:
            path: ./enrich_failures.jsonl
            codec: lines
      - output:
          stdout: {}
`)
}

const enrichDescription = `
Any event that carries a Mimecast-handled email's Message-ID (a threat from ` + "`mimecast_threats`" + `, a
SIEM alert, a user report) gets Mimecast's account of that email under ` + "`target_field`" + `, so an analyst
sees where it went, the verdicts and the content without opening the Mimecast console.

### Result

With all three lookups, the body gains:

` + "```json" + `
{
  "mimecast": {
    "found": true,
    "message_id": "<0a1b2c3d.a1.42@mail.example.net>",
    "looked_up_at": "2024-06-05T11:50:06.389Z",
    "tracking": [
      {"id": "eNpNAQ...", "status": "held", "info": "Held for review - Message Hold Applied - Spam Signature policy",
       "fromEnv": {"emailAddress": "billing@invoice-center.example.org"},
       "fromHdr": {"displayableName": "Billing Department", "emailAddress": "billing@invoice-center.example.org"},
       "to": [{"displayableName": "Ann Lee", "emailAddress": "ann.lee@example.com"}],
       "received": "2024-06-05T11:49:52+0000", "sent": "2024-06-05T11:49:50+0000",
       "subject": "Invoice overdue - action required", "senderIP": "203.0.113.7", "attachments": true,
       "route": "inbound", "spamScore": 12, "detectionLevel": "moderate"}
    ],
    "message_info": [
      {"id": "eNpNAQ...", "status": "held",
       "recipientInfo": {"messageInfo": {"fromHeader": "...", "to": ["..."], "subject": "...", "processed": "..."},
                         "recipientMetaInfo": {"receiptEvent": "Email Received", "remoteIp": "203.0.113.7", "encryptionInfo": "TLS", "components": []}},
       "deliveredMessage": {"ann.lee@example.com": {"policyInfo": [{"policyType": "URL Protection", "policyName": "..."}], "deliveryMetaInfo": {}}},
       "retentionInfo": {"currentPurgeDate": "..."},
       "spamInfo": {"spamScore": 12, "detectionLevel": "moderate", "spamProcessingDetail": {"spf": {"allow": true, "info": "pass"}}}}
    ],
    "content": {
      "archive_id": "...", "message_id": "<0a1b2c3d.a1.42@mail.example.net>", "subject": "Invoice overdue - action required",
      "from": "billing@invoice-center.example.org", "to": ["ann.lee@example.com"], "received": "2024-06-05T11:49:52Z",
      "headers": [{"name": "Received", "values": ["..."]}], "text": "...", "html": "...", "truncated": false,
      "attachments": [{"id": "...", "filename": "invoice.pdf", "contentType": "application/pdf", "sha256": "...", "size": 20480}]
    }
  }
}
` + "```" + `

- ` + "`found`" + `: whether Mimecast knows the message (with ` + "`lookups: [content]`" + ` alone: whether the archive
  has it). When it is ` + "`false`" + ` the result holds only ` + "`found`" + `, ` + "`message_id`" + `, ` + "`looked_up_at`" + `
  and, when a lookup was refused, ` + "`refused`" + `.
- ` + "`message_id`" + `: the id looked up, in angle brackets (` + "`a@b`" + ` and ` + "`<a@b>`" + ` are the same lookup).
- ` + "`looked_up_at`" + `: when Mimecast was asked; with a cache it tells how old the result is.
- ` + "`tracking`" + ` (lookup ` + "`tracking`" + `): the Message Finder hits for the id, as Mimecast sent them.
- ` + "`message_info`" + ` (lookup ` + "`message_info`" + `): get-message-info of each hit, in the same order
  (at most 10), as Mimecast sent it. ` + "`deliveredMessage`" + ` is keyed by recipient address.
- ` + "`content`" + ` (lookup ` + "`content`" + `): the archived headers, plain and HTML bodies (each capped at 1 MiB,
  ` + "`truncated`" + ` says so) and attachment metadata; ` + "`null`" + ` when the message is known but not
  archived, absent when Mimecast refused it.
- ` + "`refused`" + `: the lookups Mimecast refused (403) for this message, such as ` + "`[\"content\"]`" + `, so that
  "refused" is told from "not archived"; absent when none was. When Message Finder itself is refused,
  every lookup is.

Times inside ` + "`tracking`" + ` and ` + "`message_info`" + ` are in Mimecast's format (` + "`2024-06-05T11:49:52+0000`" + `);
` + "`looked_up_at`" + ` and the times of ` + "`content`" + ` are RFC 3339.

### Lookups, caching and merging

Each distinct id of a batch is looked up once, at most ` + "`max_concurrency`" + ` at a time; events of the batch
with the same id share the result, and so do batches of other pipeline threads asking at the same
moment. With a ` + "`cache`" + `, a result is reused until ` + "`cache_ttl`" + ` passes, a result with
` + "`found: false`" + ` until ` + "`negative_cache_ttl`" + ` passes (indexing and archiving lag behind alerts), a result
with a refused lookup until ` + "`refused_cache_ttl`" + ` passes, and a result with a failed lookup is not cached. A ` + "`content`" + ` lookup
runs its own Message Finder search and then reads the archive (detail and bodies), so it costs
several calls; it is skipped when the tracking search found nothing.

### Errors

- An event without a message id passes through untouched (` + "`mimecast_enrich_no_message_id`" + `).
- An API error that survived the client's retries flags the event with an error naming the message and
  the endpoint (` + "`errored()`" + ` in ` + "`switch`" + `, ` + "`catch`" + `, ` + "`try`" + `), and the event is
  otherwise unchanged. Errors are never cached. When only one lookup of a message failed (one
  get-message-info, say), the event keeps what the others found and is flagged naming that lookup.
- A 403 is about one message first: it is named in ` + "`refused`" + ` and, under ` + "`on_forbidden: fail`" + `,
  flags that message's events. After ` + "`forbidden_threshold`" + ` distinct messages refused in a row with no
  success in between, or at the first refusal when the permission probe (the call ` + "`check`" + ` makes
  about a made-up message) is refused too, the lookup is closed for every message (a WARN line), answered as refused
  without a call, and asked again after 5 minutes; the first success reopens it (an INFO line).
- A body that is not a JSON object, or a ` + "`target_field`" + ` path through a value that is not an object,
  flags the event.

### Metrics

` + "`mimecast_enrich_lookups`" + ` (ids resolved by asking Mimecast), ` + "`mimecast_enrich_cache_hits`" + `,
` + "`mimecast_enrich_cache_misses`" + `, ` + "`mimecast_enrich_cache_errors`" + `, ` + "`mimecast_enrich_merged`" + ` (events
that shared another event's lookup), ` + "`mimecast_enrich_enriched`" + `, ` + "`mimecast_enrich_not_found`" + `,
` + "`mimecast_enrich_no_message_id`" + `, ` + "`mimecast_enrich_errors`" + ` and ` + "`mimecast_enrich_forbidden`" + `
(label ` + "`lookup`" + `), plus the client's ` + "`mimecast_api_*`" + ` metrics.
`
