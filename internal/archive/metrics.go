package archive

import "github.com/redpanda-data/benthos/v4/public/service"

// archiveMetrics are the counters of mimecast_archive. Labels never hold an address or a
// subject: only fixed reasons and kinds.
type archiveMetrics struct {
	emails             *service.MetricCounter
	attachments        *service.MetricCounter
	bytes              *service.MetricCounter
	attachmentsSkipped *service.MetricCounter // reason: too_large | excluded
	duplicates         *service.MetricCounter
	subjectsExcluded   *service.MetricCounter
	deletes            *service.MetricCounter // kind: mailbox | message
	contentForbidden   *service.MetricCounter
	contentErrors      *service.MetricCounter
	decodeErrors       *service.MetricCounter
	fetchErrors        *service.MetricCounter
	paginationCycles   *service.MetricCounter
	checkpointErrors   *service.MetricCounter
	refetchedAlone     *service.MetricCounter // emails whose content outgrew the size their search hit gave
	mailboxesTotal     *service.MetricGauge
	mailboxesDone      *service.MetricGauge
}

func newArchiveMetrics(m *service.Metrics) archiveMetrics {
	return archiveMetrics{
		emails:             m.NewCounter("mimecast_archive_emails"),
		attachments:        m.NewCounter("mimecast_archive_attachments"),
		bytes:              m.NewCounter("mimecast_archive_bytes"),
		attachmentsSkipped: m.NewCounter("mimecast_archive_attachments_skipped", "reason"),
		duplicates:         m.NewCounter("mimecast_archive_duplicates"),
		subjectsExcluded:   m.NewCounter("mimecast_archive_subjects_excluded"),
		deletes:            m.NewCounter("mimecast_archive_deletes", "kind"),
		contentForbidden:   m.NewCounter("mimecast_archive_content_forbidden"),
		contentErrors:      m.NewCounter("mimecast_archive_content_errors"),
		decodeErrors:       m.NewCounter("mimecast_archive_decode_errors"),
		fetchErrors:        m.NewCounter("mimecast_archive_fetch_errors"),
		paginationCycles:   m.NewCounter("mimecast_archive_pagination_cycles"),
		checkpointErrors:   m.NewCounter("mimecast_archive_checkpoint_errors"),
		refetchedAlone:     m.NewCounter("mimecast_archive_refetched_alone"),
		mailboxesTotal:     m.NewGauge("mimecast_archive_mailboxes_total"),
		mailboxesDone:      m.NewGauge("mimecast_archive_mailboxes_done"),
	}
}
