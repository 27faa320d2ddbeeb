package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// searchReason is recorded in Mimecast's archive search log for every Message Finder search.
const searchReason = "mimecast-connect enrichment"

// maxInfoHits caps the get-message-info calls per message id: Message Finder may return several
// hits for one Message-ID (one per route or recipient group), each costing a call.
const maxInfoHits = 10

// forbiddenRecheck is how long a lookup refused with 403 is not asked again. Permissions change
// rarely; asking on every event would spend the application's quota on refusals.
const forbiddenRecheck = 5 * time.Minute

// outcome is what one message id resolved to.
type outcome struct {
	// raw is the JSON object placed under target_field.
	raw []byte
	// skipped lists lookups left out because Mimecast refused them (on_forbidden: skip); an
	// outcome with skipped lookups is not cached.
	skipped []string
}

// forbiddenError is a 403 on a lookup: the API application lacks a product or role.
type forbiddenError struct {
	lookup string
	err    error
}

func (e *forbiddenError) Error() string {
	return fmt.Sprintf("mimecast_enrich: Mimecast refused the %s lookup (the API application needs %s): %v",
		e.lookup, permissionFor(e.lookup), e.err)
}

func (e *forbiddenError) Unwrap() error { return e.err }

// permissionFor names the admin console role a lookup needs (Mimecast API docs).
func permissionFor(lookup string) string {
	if lookup == lookupContent {
		return "Archive | Search Content View and Gateway | Tracking | Read"
	}
	return "Gateway | Tracking | Read"
}

// forbiddenGate remembers refused lookups for forbiddenRecheck, and whether each was warned about.
type forbiddenGate struct {
	mu     sync.Mutex
	until  map[string]time.Time
	last   map[string]error
	warned map[string]bool
}

func newForbiddenGate() *forbiddenGate {
	return &forbiddenGate{until: map[string]time.Time{}, last: map[string]error{}, warned: map[string]bool{}}
}

// check returns the last refusal of lookup while it is still being honoured, else nil.
func (g *forbiddenGate) check(lookup string, now time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Before(g.until[lookup]) {
		return g.last[lookup]
	}
	return nil
}

// trip records a refusal; first is true the first time lookup is refused.
func (g *forbiddenGate) trip(fe *forbiddenError, now time.Time) (first bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.until[fe.lookup] = now.Add(forbiddenRecheck)
	g.last[fe.lookup] = fe
	first = !g.warned[fe.lookup]
	g.warned[fe.lookup] = true
	return first
}

// isRefusal reports whether err is a 403 from Mimecast, fresh or remembered by the gate.
func isRefusal(err error) bool {
	var fe *forbiddenError
	return errors.As(err, &fe)
}

// forbidden turns a 403 from Mimecast into a *forbiddenError and records it; other errors are
// returned as they are.
func (p *enrichProcessor) forbidden(lookup string, err error) error {
	var apiErr *mimecast.APIError
	if !errors.As(err, &apiErr) || !apiErr.Forbidden() {
		return err
	}
	fe := &forbiddenError{lookup: lookup, err: err}
	if p.gate.trip(fe, p.now()) {
		then := "events are flagged with this error"
		if p.cfg.onForbidden == onForbiddenSkip {
			then = "the lookup is left out of results"
		}
		p.log.Warnf("%v; %s, and it is not asked again for %v", fe, then, forbiddenRecheck)
	}
	return fe
}

// lookup asks Mimecast about one message id and builds the result object:
//
//	{"found", "message_id", "looked_up_at", "tracking": [...], "message_info": [...], "content": {...}}
//
// tracking and message_info hold the records as Mimecast sent them; content is
// mimecast.MessageContent, or null when the message is not archived.
func (p *enrichProcessor) lookup(ctx context.Context, id string) (*outcome, error) {
	look := p.cfg.lookups
	client := p.cfg.conn.Client
	ctx = p.cfg.conn.Context(ctx)
	started := p.now()
	res := map[string]any{"found": false, "message_id": id, "looked_up_at": started.UTC().Format(time.RFC3339Nano)}
	out := &outcome{}
	skipOnForbidden := p.cfg.onForbidden == onForbiddenSkip
	var refused error // the first refusal skipped under on_forbidden: skip
	skip := func(lookup string, err error) {
		out.skipped = append(out.skipped, lookup)
		if refused == nil {
			refused = err
		}
	}

	// A lookup refused a moment ago is answered from the gate, without a call.
	first := lookupTracking
	if !look.search() {
		first = lookupContent
	}
	if err := p.gate.check(first, started); err != nil {
		return nil, err
	}
	p.metrics.lookups.Incr(1)

	found := false
	var hits []mimecast.TrackedEmail
	if look.search() {
		page, err := client.SearchMessages(ctx, mimecast.MessageSearchRequest{
			Start: started.Add(-p.cfg.searchWindow), End: started, MessageID: id, SearchReason: searchReason,
		})
		if err != nil {
			return nil, p.forbidden(lookupTracking, fmt.Errorf("searching Message Finder: %w", err))
		}
		found = len(page.Items) > 0
		hits = page.Items
		if found && look.tracking {
			res[lookupTracking] = rawRecords(page.Items)
		}
		if found && look.messageInfo {
			infos, err := p.messageInfos(ctx, page.Items)
			switch {
			case err == nil:
				res[lookupMessageInfo] = infos
			case isRefusal(err) && skipOnForbidden:
				skip(lookupMessageInfo, err)
			default:
				return nil, err
			}
		}
	}
	if look.content && (found || !look.search()) {
		content, err := p.content(ctx, id, hits, look.search())
		switch {
		case err == nil:
			found = found || content != nil
			if found {
				res[lookupContent] = content // null: known, not archived
			}
		case isRefusal(err) && skipOnForbidden:
			skip(lookupContent, err)
		default:
			return nil, err
		}
	}
	if !found && refused != nil {
		// Nothing was learnt and part of the question was refused: that is a refusal, not a
		// "no such message".
		return nil, refused
	}
	res["found"] = found
	raw, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("encoding the result: %w", err)
	}
	out.raw = raw
	return out, nil
}

// messageInfos calls get-message-info for each decodable hit, in the hits' order. A hit Mimecast
// no longer knows (indexing moved on between the two calls) is left out.
func (p *enrichProcessor) messageInfos(ctx context.Context, hits []mimecast.TrackedEmail) ([]json.RawMessage, error) {
	if err := p.gate.check(lookupMessageInfo, p.now()); err != nil {
		return nil, err
	}
	infos := []json.RawMessage{}
	asked := 0
	for _, h := range hits {
		if h.DecodeErr() != nil || h.MimecastID == "" {
			continue
		}
		if asked++; asked > maxInfoHits {
			p.log.Debugf("message %s has more than %d tracking hits: message_info covers the first %d", h.MimecastID, maxInfoHits, maxInfoHits)
			break
		}
		info, err := p.cfg.conn.Client.GetMessageInfo(ctx, h.MimecastID)
		var apiErr *mimecast.APIError
		switch {
		case err == nil:
			if json.Valid(info.Raw) {
				infos = append(infos, info.Raw)
			}
		case errors.Is(err, mimecast.ErrNoData), errors.As(err, &apiErr) && apiErr.HasCode("err_message_not_found"):
			continue
		default:
			return nil, p.forbidden(lookupMessageInfo, fmt.Errorf("getting message info of %s: %w", h.MimecastID, err))
		}
	}
	return infos, nil
}

// content fetches the archived copy; nil with a nil error means the message is not archived.
// searched says hits are the message-finder hits of id already, so the search is not repeated.
func (p *enrichProcessor) content(ctx context.Context, id string, hits []mimecast.TrackedEmail, searched bool) (map[string]any, error) {
	if err := p.gate.check(lookupContent, p.now()); err != nil {
		return nil, err
	}
	var (
		c   *mimecast.MessageContent
		err error
	)
	if searched {
		c, err = p.cfg.conn.Client.ArchivedContentOf(ctx, hits, id)
	} else {
		c, err = p.cfg.conn.Client.ArchivedContent(ctx, id, p.cfg.searchWindow)
	}
	if errors.Is(err, mimecast.ErrMessageNotArchived) {
		return nil, nil
	}
	if err != nil {
		return nil, p.forbidden(lookupContent, fmt.Errorf("fetching archived content: %w", err))
	}
	// Plain JSON values, so that Bloblang can walk the content like the rest of the result.
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding archived content: %w", err)
	}
	var plain map[string]any
	if err := json.Unmarshal(raw, &plain); err != nil {
		return nil, fmt.Errorf("encoding archived content: %w", err)
	}
	return plain, nil
}

// rawRecords returns the hits as Mimecast sent them, skipping any that are not JSON.
func rawRecords(hits []mimecast.TrackedEmail) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(hits))
	for _, h := range hits {
		if json.Valid(h.Raw) {
			out = append(out, h.Raw)
		}
	}
	return out
}

// normalizeMessageID trims the interpolated id and puts it in angle brackets, as Message Finder
// takes it and as the header carries it, so "<a@b>" and "a@b" share one lookup. "null" is what
// `${! meta("k") }` gives for a missing key; no Message-ID is ever that word.
func normalizeMessageID(raw string) (string, bool) {
	s := strings.TrimSpace(raw)
	if s == "" || s == "null" {
		return "", false
	}
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">"))
	if s == "" {
		return "", false
	}
	return "<" + s + ">", true
}
