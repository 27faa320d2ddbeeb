// Package archive is the mimecast_archive input: it crawls the Mimecast email archive per
// domain and mailbox, fetches and parses each email's content, and keeps a checkpoint per
// mailbox that moves only past batches the pipeline acknowledged.
package archive

import (
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/configlint"
	"github.com/mimecast-connect/mimecast-connect/internal/connection"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// Name is the component's name in a config.
const Name = "mimecast_archive"

// NewBatchInput parses a mimecast_archive config and builds the input; the input's
// auto_replay_nacks field is applied by the input's queue (see batchinput.Queue.ReplayAsConfigured).
func NewBatchInput(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchInput, error) {
	cfg, err := archiveConfigFromParsed(conf, mgr, time.Now())
	if err != nil {
		return nil, err
	}
	if err := connection.ZeroSeries(conf, mgr, Endpoints); err != nil {
		return nil, err
	}
	in := newArchiveInput(cfg, mgr)
	if err := in.queue.ReplayAsConfigured(conf); err != nil {
		return nil, err
	}
	return in, nil
}

// CacheFields are the fields that name a cache resource.
func CacheFields() []string { return []string{afCheckpointCache} }

// Endpoints lists the calls a crawl makes: the directory to find the mailboxes, the archive
// search per mailbox and the content of each email. Attachments are cut out of the RFC 822
// message, so extract_attachments adds no call of its own.
func Endpoints(conf *service.ParsedConfig) ([]mimecast.Call, error) {
	calls := mimecast.CallsOf("directory", mimecast.PathInternalDomains, mimecast.PathInternalUsers)
	calls = append(calls, mimecast.CallsOf("archive search", mimecast.PathArchiveSearch)...)
	calls = append(calls, mimecast.CallsOf("content", mimecast.PathMessagePart)...)
	extract, err := conf.FieldBool(afExtractAttachments)
	if err != nil {
		return nil, err
	}
	if extract {
		calls = append(calls, mimecast.CallsOf("attachments", mimecast.PathMessagePart)...)
	}
	return calls, nil
}

// The constructor's validation, for lint (see internal/configlint).
func init() {
	configlint.Register(Name, "input", Spec, func(conf *service.ParsedConfig) error {
		_, err := archiveConfigFromParsed(conf, nil, time.Now())
		return err
	})
}

// Spec is the documented config spec of mimecast_archive.
func Spec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Version("0.1.0").
		Summary("Crawls the Mimecast email archive: every email (and optionally every attachment) of the chosen domains and mailboxes, first as a backfill, then as delta crawls, with delete events when mailboxes or messages leave.").
		Description(archiveDescription).
		Fields(connection.Fields()...).
		LintRule(configlint.LintRule(Name)).
		Fields(archiveFields()...).
		Field(service.NewAutoRetryNacksToggleField()).
		Example("Backfill one domain to files", "Every email of 2024 in corp.example.com, each as a JSON file, attachments beside it; the input ends at end_date.", `
input:
  mimecast_archive:
    client_id: ${MIMECAST_CLIENT_ID}
    client_secret: ${MIMECAST_CLIENT_SECRET}
    include_domains: ['^corp\.example\.com$']
    start_date: 2024-01-01
    end_date: 2024-12-31
    extract_attachments: true
    checkpoint_cache: checkpoints
cache_resources:
  - label: checkpoints
    file:
      directory: ./state
output:
  file:
    path: ./archive/${! @mimecast_message_id.re_replace_all("[^A-Za-z0-9_-]", "_") }/${! if @mimecast_document == "attachment" { @mimecast_attachment_index.string() + "_" + @mimecast_attachment_name.re_replace_all("[^A-Za-z0-9._-]", "_").trim_prefix(".") } else { "email.json" } }
    codec: all-bytes
`).
		Example("Ongoing delta crawl with deletes", "Every 15 minutes, the new mail of every mailbox except service accounts; documents are indexed by id, and a mailbox that leaves the directory is deleted from the index.", `
input:
  mimecast_archive:
    client_id: ${MIMECAST_CLIENT_ID}
    client_secret: ${MIMECAST_CLIENT_SECRET}
    exclude_mailboxes: ['^svc-', '^noreply@']
    start_date: 2160h
    poll_interval: 15m
    checkpoint_cache: checkpoints
cache_resources:
  - label: checkpoints
    file:
      directory: ./state
output:
  switch:
    cases:
      - check: '@mimecast_operation == "delete"'
        output:
          stdout: {}
          processors:
            - mapping: 'root = "delete %s %s".format(@mimecast_document, @mimecast_message_id | @mimecast_mailbox)'
      - output:
          stdout: {}
`)
}

// archiveDescription is written with ¦ for Markdown's backtick, which a Go raw string cannot hold.
var archiveDescription = strings.ReplaceAll(`
Each crawl lists the internal domains (¦include_domains¦, ¦include_local_domains¦), their users
(¦include_mailboxes¦, ¦exclude_mailboxes¦; aliases are skipped), and then, ¦mailbox_concurrency¦
mailboxes at a time, searches each mailbox's archive for the messages received since its checkpoint
(minus ¦delta_offset¦; ¦start_date¦ on a first crawl) up to ¦end_date¦ or now. Each message's content
is fetched as RFC 822 (¦request_concurrency¦ at a time per mailbox), parsed (charsets, nested
multiparts, encoded-word subjects and file names) and emitted as one JSON document; with
¦extract_attachments¦, each attachment follows as a message of its own holding its raw bytes.

A search page is one or more batches (a batch closes at 8 MiB, or earlier when
¦max_bytes_in_flight¦ is used up). A mailbox's checkpoint (its cursor,
the page to resume at, and the ids near the cursor) is saved in ¦checkpoint_cache¦ only once every
batch before it was acknowledged, so a restart resumes each mailbox where it stood, and the overlap
and pages the API repeats are not emitted twice. Without ¦end_date¦ a new delta crawl starts
¦poll_interval¦ after the last one ended; with it, the input ends once every mailbox was crawled up
to it and acknowledged.

### Messages

Every message has the metadata ¦mimecast_mailbox¦, ¦mimecast_operation¦ (¦index¦ or ¦delete¦),
¦mimecast_document¦ (¦email¦, ¦attachment¦ or ¦mailbox¦) and, except on mailbox deletes,
¦mimecast_message_id¦ (the archive id of the email, on its attachments too) and ¦mimecast_received¦
(RFC 3339).

- **Email** (¦index¦): JSON with ¦id¦, ¦mailbox¦, ¦message_id¦ (the Message-ID header), ¦from¦, ¦to¦,
  ¦cc¦, ¦bcc¦, ¦reply_to¦ (each ¦{name, address}¦), ¦subject¦, ¦received¦, ¦date¦, ¦size¦, ¦headers¦
  (name to decoded values), ¦text¦, ¦html¦, ¦truncated¦, ¦attachment_count¦, ¦attachments¦ (¦index¦,
  ¦name¦, ¦content_type¦, ¦content_id¦, ¦inline¦, ¦size¦, ¦sha256¦, ¦extracted¦, ¦skipped¦) and
  ¦content_available¦. The metadata ¦mimecast_rfc822_message_id¦ holds the Message-ID header.
- **Attachment** (¦index¦, with ¦extract_attachments¦): the raw bytes, with ¦mimecast_parent_id¦,
  ¦mimecast_attachment_name¦ (decoded: sanitise it before using it in a path),
  ¦mimecast_attachment_content_type¦, ¦mimecast_attachment_size¦, ¦mimecast_attachment_sha256¦ and
  ¦mimecast_attachment_index¦.
- **Mailbox delete** (¦delete¦, ¦mailbox¦): a mailbox crawled before left the scope (excluded, or gone
  from the directory); its checkpoint is forgotten once the event was acknowledged. Delete every
  document whose ¦mimecast_mailbox¦ is the mailbox.
- **Message delete** (¦delete¦, ¦email¦, with ¦ignore_delta_tokens¦): a message emitted before was not
  found again. Delete the document ¦mimecast_message_id¦ and the attachments whose parent it is.

Route deletes with a ¦switch¦ output on ¦@mimecast_operation¦, or use the operation as the action of
a search engine's bulk API (see ¦config/archive_to_search.yaml¦).

Without the Content View permission (HTTP 403 on the content), emails are emitted from the search
metadata with ¦content_available: false¦, a warning is logged once and
¦mimecast_archive_content_forbidden¦ counts them; crawl again with ¦ignore_delta_tokens¦ once the
permission is granted. A content fetch that fails in a way that may pass (an outage outlasting the
client's retries, a stream cut short) stops the mailbox for this crawl, and the next crawl resumes
at that page, so the email still comes with its content. An email whose content is not valid MIME,
is gone, or failed 3 crawls in a row is emitted error-flagged with what is known (route it with
¦reject_errored¦ or a ¦switch¦ on ¦errored()¦), and the crawl goes on.

### Memory

Bounded whatever the archive's size and ¦mailbox_concurrency¦: mailboxes are streamed and no
mailbox's message list is held; the emails and attachments being fetched, waiting for their turn
or waiting for acknowledgement are held within ¦max_bytes_in_flight¦ (48 MiB) for all mailboxes
together, and each mailbox has at most 4 batches waiting for acknowledgement; an attachment is
decoded as a stream into one buffer, or hashed and dropped when over ¦max_attachment_size¦. The
process's memory is about twice ¦max_bytes_in_flight¦ plus some 50 MiB (the Go heap grows to twice
what it holds before collecting). What grows with the archive is the set of mailbox addresses, the
ids of the messages in each open window of the mailboxes being crawled (about 100 bytes a message:
a window read again after a refused page token repeats none of them), and, while an
¦ignore_delta_tokens¦ re-crawl compares a mailbox, one 8-byte hash per message of that mailbox.

### Metrics

¦mimecast_archive_emails¦, ¦mimecast_archive_attachments¦, ¦mimecast_archive_bytes¦,
¦mimecast_archive_attachments_skipped¦ (label ¦reason¦: ¦too_large¦ or ¦excluded¦),
¦mimecast_archive_duplicates¦, ¦mimecast_archive_subjects_excluded¦, ¦mimecast_archive_deletes¦ (label
¦kind¦: ¦mailbox¦ or ¦message¦), ¦mimecast_archive_content_forbidden¦, ¦mimecast_archive_content_errors¦,
¦mimecast_archive_decode_errors¦, ¦mimecast_archive_fetch_errors¦, ¦mimecast_archive_checkpoint_errors¦,
¦mimecast_archive_pagination_cycles¦ (a search page whose next token led back to a page of the same
window: the mailbox's crawl stops there, and the next crawl reads on from that page), the gauges ¦mimecast_archive_mailboxes_total¦ and ¦mimecast_archive_mailboxes_done¦, and the client's
¦mimecast_api_*¦. A log line every ¦progress_interval¦ and at the end of each crawl gives mailboxes
done of total, emails, attachments and bytes.

### Readiness

While Mimecast refuses the crawl for good (the credentials, or the Directory permission that lists the
mailboxes), the input reports itself as not connected: ¦/ready¦ answers 503 with the reason, Benthos
counts ¦input_connection_failed¦ and logs the reason as an ERROR once a minute, until a crawl can list
the scope again.
`, "¦", "`")
