package threats

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/celfilter"
)

// Metadata keys of every mimecast_threats message.
const (
	metaFeed       = "mimecast_feed"
	metaEventID    = "mimecast_event_id"
	metaRecordID   = "mimecast_record_id"
	metaEventTime  = "mimecast_event_time"
	metaMessageID  = "mimecast_message_id"
	metaContentID  = "mimecast_content_id"
	metaContent    = "mimecast_content"
	metaThreatType = "mimecast_threat_type"
	metaStatus     = "mimecast_status"
	metaSource     = "mimecast_source"
)

// admit decides whether rec becomes a message: decode errors become error-flagged messages,
// repeats (ids in seen) and records outside the selections or filters are counted and dropped.
// seen is the runner's read-side id set; admit adds rec's id to it.
func (in *threatsInput) admit(src threatSource, rec *threatRecord, seen map[string]int64) *service.Message {
	feed := src.feed()
	// Undecodable records are deduplicated too (their id is a hash of the raw text), so a page
	// read again after an error does not flag the same broken record twice.
	if _, dup := seen[rec.id]; dup {
		in.metrics.duplicates.Incr(1, feed)
		return nil
	}
	if rec.decodeErr != nil {
		if rec.id != "" {
			seen[rec.id] = in.now().UnixMilli()
		}
		in.metrics.decodeErrors.Incr(1, feed)
		in.log.Warnf("%s: emitting an undecodable record as an error-flagged message: %v", src.name(), rec.decodeErr)
		msg := service.NewMessage(rec.raw)
		msg.MetaSetMut(metaFeed, feed)
		msg.SetError(fmt.Errorf("decoding %s record: %w", feed, rec.decodeErr))
		return msg
	}
	seen[rec.id] = rec.eventTime.UnixMilli()
	if !in.selected(rec) {
		in.metrics.filtered.Incr(1, feed)
		return nil
	}
	if in.cfg.filters.Len() > 0 && !in.passesFilters(src, rec) {
		in.metrics.filtered.Incr(1, feed)
		return nil
	}
	in.metrics.emitted.Incr(1, feed)
	msg := service.NewMessage(rec.raw)
	msg.MetaSetMut(metaFeed, feed)
	msg.MetaSetMut(metaEventID, rec.id)
	if !rec.eventTime.IsZero() {
		msg.MetaSetMut(metaEventTime, rec.eventTime.UTC().Format(time.RFC3339Nano))
	}
	for k, v := range map[string]string{metaRecordID: rec.recordID, metaMessageID: rec.messageID, metaContentID: rec.contentID, metaThreatType: rec.threatType, metaStatus: rec.status, metaSource: rec.source} {
		if v != "" {
			msg.MetaSetMut(k, v)
		}
	}
	return msg
}

// selected applies threat_types, statuses and threat_sources locally. For feeds whose API
// filters already, the record's values were set from the request and pass trivially.
func (in *threatsInput) selected(rec *threatRecord) bool {
	return matchesSelection(in.cfg.threatTypes, rec.threatType) &&
		matchesSelection(in.cfg.statuses, rec.status) &&
		matchesSelection(in.cfg.sources, rec.source)
}

func matchesSelection(want []string, got string) bool {
	return len(want) == 0 || slices.Contains(want, got)
}

func (in *threatsInput) passesFilters(src threatSource, rec *threatRecord) bool {
	var event map[string]any
	if err := json.Unmarshal(rec.raw, &event); err != nil {
		event = map[string]any{}
	}
	keep, errs := in.cfg.filters.Match(celfilter.Input{
		Event:      event,
		Feed:       src.feed(),
		ThreatType: rec.threatType,
		Status:     rec.status,
		Source:     rec.source,
		MessageID:  rec.messageID,
		EventTime:  rec.eventTime,
	})
	for _, err := range errs {
		in.metrics.filterErrors.Incr(1, src.feed())
		in.log.Debugf("%s: filter evaluation on event %s counted as no match: %v", src.name(), rec.id, err)
	}
	return keep
}
