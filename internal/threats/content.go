package threats

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// contentSearchWindow is how far back message-finder looks for the email of an event.
const contentSearchWindow = 30 * 24 * time.Hour

// contentConcurrency bounds the content lookups of one batch.
const contentConcurrency = 4

// contentFetcher adds archive content to events (content_view). Without the Content View
// permission it warns once, counts, and lets events through without content.
type contentFetcher struct {
	in        *threatsInput
	forbidden atomic.Bool
	warnOnce  sync.Once
}

func newContentFetcher(in *threatsInput) *contentFetcher { return &contentFetcher{in: in} }

// addContent fetches content for the messages of batch that carry a message id.
func (in *threatsInput) addContent(ctx context.Context, batch service.MessageBatch) {
	f := in.content
	sem := make(chan struct{}, contentConcurrency)
	var wg sync.WaitGroup
	for _, msg := range batch {
		messageID, contentID := metaString(msg, metaMessageID), metaString(msg, metaContentID)
		if (messageID == "" && contentID == "") || msg.GetError() != nil {
			continue
		}
		if f.forbidden.Load() {
			in.metrics.contentForbidden.Incr(1)
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			f.add(ctx, msg, messageID, contentID)
		}()
	}
	wg.Wait()
}

// metaString is msg's metadata value under key as a string ("" when unset).
func metaString(msg *service.Message, key string) string {
	v, _ := msg.MetaGetMut(key)
	s, _ := v.(string)
	return s
}

// add attaches the content of the email msg is about: by the id the archive takes when the
// record carries one (held messages), else by its Message-ID. A record that knew no Message-ID
// gets the archived email's as mimecast_message_id, for the processors after the input.
func (f *contentFetcher) add(ctx context.Context, msg *service.Message, messageID, contentID string) {
	conn := f.in.cfg.conn
	var (
		content *mimecast.MessageContent
		err     error
	)
	if contentID != "" {
		content, err = conn.Client.ArchivedContentByID(conn.Context(ctx), contentID)
	} else {
		content, err = conn.Client.ArchivedContent(conn.Context(ctx), messageID, contentSearchWindow)
	}
	if messageID == "" {
		messageID = contentID
	}
	var apiErr *mimecast.APIError
	switch {
	case err == nil:
	case errors.As(err, &apiErr) && apiErr.Forbidden():
		f.forbidden.Store(true)
		f.in.metrics.contentForbidden.Incr(1)
		f.warnOnce.Do(func() {
			f.in.log.Warnf("content_view: Mimecast refused the archive content (%v): grant the API application's role Archive | Search Content View; events are emitted without content", err)
		})
		return
	case errors.Is(err, mimecast.ErrMessageNotArchived):
		f.in.log.Debugf("content_view: %s is not in the archive", messageID)
		return
	default:
		f.in.metrics.contentErrors.Incr(1)
		f.in.log.Warnf("content_view: fetching content of %s: %v", messageID, err)
		return
	}
	body, err := msg.AsStructuredMut()
	if err != nil {
		return
	}
	obj, ok := body.(map[string]any)
	if !ok {
		return
	}
	// Plain JSON values, so that Bloblang mappings downstream can walk the content.
	raw, err := json.Marshal(content)
	if err != nil {
		return
	}
	var plain any
	if err := json.Unmarshal(raw, &plain); err != nil {
		return
	}
	obj["content"] = plain
	msg.SetStructuredMut(obj)
	if metaString(msg, metaMessageID) == "" && content.MessageID != "" {
		msg.MetaSetMut(metaMessageID, content.MessageID)
	}
}
