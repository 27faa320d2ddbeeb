package threats

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/refusal"
)

// contentSearchWindow is how far back message-finder looks for the email of an event.
const contentSearchWindow = 30 * 24 * time.Hour

// contentConcurrency bounds the content lookups of one batch.
const contentConcurrency = 4

// contentFetcher adds archive content to events (content_view). A refusal is about one message
// first (a legal hold, a Smart Tag, a message outside the role's scope): that event goes on
// without content, its mimecast_content saying "refused". Only after refusal.DefaultThreshold
// distinct messages refused in a row is the content lookup closed for every event (logged, and
// asked again after refusal.DefaultRecheck); any success reopens it.
type contentFetcher struct {
	in   *threatsInput
	gate *refusal.Gate
}

// lookupContent names the content lookup in the gate.
const lookupContent = "content"

// Values of the mimecast_content metadata.
const (
	contentAttached    = "attached"
	contentRefused     = "refused"
	contentNotArchived = "not_archived"
	contentFailed      = "failed"
)

// contentRefusalThreshold is how many distinct messages refused in a row close the content
// lookup; a variable so that a test can tell one message's refusals from the application's.
var contentRefusalThreshold = refusal.DefaultThreshold

func newContentFetcher(in *threatsInput) *contentFetcher {
	return &contentFetcher{in: in, gate: refusal.New(contentRefusalThreshold, refusal.DefaultRecheck)}
}

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
		if f.gate.ClosedFor(lookupContent, in.now()) != nil {
			in.metrics.contentForbidden.Incr(1)
			msg.MetaSetMut(metaContent, contentRefused)
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

// contentPermission names the role the refused call needs: Message Finder's, or Content View.
func contentPermission(apiErr *mimecast.APIError) string {
	if apiErr.Endpoint == mimecast.PathMessageFinderSearch {
		return "Gateway | Tracking | Read (Message Finder finds the email first)"
	}
	return "Archive | Search Content View"
}

func isForbidden(err error) bool {
	var apiErr *mimecast.APIError
	return errors.As(err, &apiErr) && apiErr.Forbidden()
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
		if f.gate.Succeeded(lookupContent) {
			f.in.log.Infof("content_view: Mimecast answered again (%s): content is fetched for every event again", messageID)
		}
	case errors.As(err, &apiErr) && apiErr.Forbidden():
		f.in.metrics.contentForbidden.Incr(1)
		msg.MetaSetMut(metaContent, contentRefused)
		now := f.in.now()
		switch {
		case f.gate.Refused(lookupContent, messageID, err, now):
			f.in.log.Warnf("content_view: Mimecast refused the content of %d distinct messages in a row (%v): grant the API application's role %s; events are emitted without content, and it is asked again in %v",
				f.gate.Threshold(), err, contentPermission(apiErr), f.gate.Recheck())
		case f.gate.Streak(lookupContent) == 1 && isForbidden(conn.Client.ProbeMessageEndpoint(conn.Context(ctx), apiErr.Endpoint)):
			// The call check makes about a message that does not exist is refused too: the
			// application lacks the permission, not only this message is out of its reach.
			if f.gate.Close(lookupContent, err, now) {
				f.in.log.Warnf("content_view: Mimecast refused the content of %s and the permission probe too (%v): grant the API application's role %s; events are emitted without content, and it is asked again in %v",
					messageID, err, contentPermission(apiErr), f.gate.Recheck())
			}
		default:
			f.in.log.Debugf("content_view: Mimecast refused the content of %s: %v", messageID, err)
		}
		return
	case errors.Is(err, mimecast.ErrMessageNotArchived):
		f.gate.Succeeded(lookupContent)
		msg.MetaSetMut(metaContent, contentNotArchived)
		f.in.log.Debugf("content_view: %s is not in the archive", messageID)
		return
	default:
		f.in.metrics.contentErrors.Incr(1)
		msg.MetaSetMut(metaContent, contentFailed)
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
	msg.MetaSetMut(metaContent, contentAttached)
	if metaString(msg, metaMessageID) == "" && content.MessageID != "" {
		msg.MetaSetMut(metaMessageID, content.MessageID)
	}
}
