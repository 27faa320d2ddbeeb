package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/refusal"
)

// searchReason is recorded in Mimecast's archive search log for every Message Finder search.
const searchReason = "mimecast-connect enrichment"

// maxInfoHits caps the get-message-info calls per message id: Message Finder may return several
// hits for one Message-ID (one per route or recipient group), each costing a call.
const maxInfoHits = 10

// forbiddenRecheck is how long a lookup closed for every message is not asked again.
const forbiddenRecheck = refusal.DefaultRecheck

// outcome is what one message id resolved to.
type outcome struct {
	// raw is the JSON object placed under target_field.
	raw []byte
	// found is the result's found: something was learnt about the message.
	found bool
	// refused lists the lookups Mimecast refused for this message (also named in the result's
	// refused); refusal is the first of those refusals.
	refused []string
	refusal *forbiddenError
	// failed are the lookups that failed otherwise, after the client's retries.
	failed []lookupError
}

// cacheable reports whether the outcome may be cached: only what was really answered, a
// refusal included; a failed lookup is not an answer.
func (o *outcome) cacheable() bool { return len(o.failed) == 0 }

// lookupError is a lookup of one message that failed for another reason than a refusal.
type lookupError struct {
	lookup string
	err    error
}

// forbiddenError is a 403 on a lookup: the API application lacks a product or role, or is not
// allowed to see this message.
type forbiddenError struct {
	lookup string
	err    error
}

func (e *forbiddenError) Error() string {
	return fmt.Sprintf("mimecast_enrich: Mimecast refused the %s lookup (the API application needs %s, and the message must be within its scope): %v",
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

// isForbidden reports whether err is a 403 from Mimecast.
func isForbidden(err error) bool {
	var apiErr *mimecast.APIError
	return errors.As(err, &apiErr) && apiErr.Forbidden()
}

// lookupRun is one lookup of one message id: it records what each lookup answered, and keeps
// the refusal gate informed.
type lookupRun struct {
	ctx context.Context
	p   *enrichProcessor
	id  string
	now time.Time
	out *outcome
}

// closed answers lookup from the gate when it is closed: the lookup is refused without a call.
func (r *lookupRun) closed(lookup string) bool {
	err := r.p.gate.ClosedFor(lookup, r.now)
	if err == nil {
		return false
	}
	var fe *forbiddenError
	if !errors.As(err, &fe) {
		fe = &forbiddenError{lookup: lookup, err: err}
	}
	r.refuse(fe)
	return true
}

func (r *lookupRun) refuse(fe *forbiddenError) {
	if !slices.Contains(r.out.refused, fe.lookup) {
		r.out.refused = append(r.out.refused, fe.lookup)
	}
	if r.out.refusal == nil {
		r.out.refusal = fe
	}
}

// answered reports err of lookup to the gate and the outcome; ok is true when it succeeded.
func (r *lookupRun) answered(lookup string, err error) (ok bool) {
	p := r.p
	switch {
	case err == nil:
		if p.gate.Succeeded(lookup) {
			p.log.Infof("the %s lookup is open again: Mimecast answered it for %s", lookup, r.id)
		}
		return true
	case isForbidden(err):
		fe := &forbiddenError{lookup: lookup, err: err}
		r.refuse(fe)
		switch {
		case p.gate.Refused(lookup, r.id, fe, r.now):
			p.log.Warnf("closing the %s lookup for every message: Mimecast refused it for %d distinct messages in a row (%v); the API application needs %s. Events get refused: [%s] without a call; it is asked again in %v",
				lookup, p.cfg.forbiddenThreshold, err, permissionFor(lookup), lookup, forbiddenRecheck)
		case p.gate.Streak(lookup) == 1 && r.probeRefused(err):
			if p.gate.Close(lookup, fe, r.now) {
				p.log.Warnf("closing the %s lookup for every message: Mimecast refused it for %s and refused the permission probe too (%v); the API application needs %s. Events get refused: [%s] without a call; it is asked again in %v",
					lookup, r.id, err, permissionFor(lookup), lookup, forbiddenRecheck)
			}
		default:
			p.log.Debugf("Mimecast refused the %s lookup for %s: %v", lookup, r.id, err)
		}
	default:
		r.out.failed = append(r.out.failed, lookupError{lookup: lookup, err: err})
	}
	return false
}

// probeRefused asks the endpoint that refused err about a message that does not exist, as
// check does: refused again, the application lacks the permission, and not only this message
// is out of its reach.
func (r *lookupRun) probeRefused(err error) bool {
	var apiErr *mimecast.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return isForbidden(r.p.cfg.conn.Client.ProbeMessageEndpoint(r.ctx, apiErr.Endpoint))
}

// lookup asks Mimecast about one message id and builds the result object:
//
//	{"found", "message_id", "looked_up_at", "tracking": [...], "message_info": [...], "content": {...}, "refused": [...]}
//
// tracking and message_info hold the records as Mimecast sent them; content is
// mimecast.MessageContent, or null when the message is not archived; refused names the lookups
// Mimecast refused for this message. A lookup that failed otherwise is missing from the result
// and listed in the outcome, for the event to be flagged. The error is for a lookup that learnt
// nothing at all: Message Finder failed.
func (p *enrichProcessor) lookup(ctx context.Context, id string) (*outcome, error) {
	look := p.cfg.lookups
	client := p.cfg.conn.Client
	ctx = p.cfg.conn.Context(ctx)
	started := p.now()
	res := map[string]any{"found": false, "message_id": id, "looked_up_at": started.UTC().Format(time.RFC3339Nano)}
	r := &lookupRun{ctx: ctx, p: p, id: id, now: started, out: &outcome{}}
	p.metrics.lookups.Incr(1)

	found, searched := false, false
	var hits []mimecast.TrackedEmail
	if look.search() && !r.closed(lookupTracking) {
		page, err := client.SearchMessages(ctx, mimecast.MessageSearchRequest{
			Start: started.Add(-p.cfg.searchWindow), End: started, MessageID: id, SearchReason: searchReason,
		})
		if err != nil && !isForbidden(err) {
			return nil, fmt.Errorf("searching Message Finder: %w", err)
		}
		if r.answered(lookupTracking, err) {
			searched = true
			found, hits = len(page.Items) > 0, page.Items
			if found && look.tracking {
				res[lookupTracking] = rawRecords(page.Items)
			}
		}
	}
	if look.search() && !searched {
		// Message Finder refused: message_info and content need its ids, so they are refused too.
		for _, l := range []struct {
			on   bool
			name string
		}{{look.messageInfo, lookupMessageInfo}, {look.content, lookupContent}} {
			if l.on {
				r.refuse(&forbiddenError{lookup: l.name, err: r.out.refusal.err})
			}
		}
	}
	if searched && found && look.messageInfo && !r.closed(lookupMessageInfo) {
		infos, err := p.messageInfos(ctx, hits)
		if infos != nil {
			res[lookupMessageInfo] = infos
		}
		r.answered(lookupMessageInfo, err)
	}
	if look.content && (found || !look.search()) && !r.closed(lookupContent) {
		content, err := p.content(ctx, id, hits, look.search())
		if r.answered(lookupContent, err) {
			found = found || content != nil
			if found {
				res[lookupContent] = content // null: known, not archived
			}
		}
	}
	res["found"] = found
	if len(r.out.refused) > 0 {
		res["refused"] = r.out.refused
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("encoding the result: %w", err)
	}
	r.out.raw, r.out.found = raw, found
	return r.out, nil
}

// messageInfos calls get-message-info for each decodable hit, in the hits' order. A hit Mimecast
// no longer knows (indexing moved on between the two calls) is left out. A refusal stops the
// calls; another failure of one hit leaves that hit out, and the first such error is returned
// with the infos of the others.
func (p *enrichProcessor) messageInfos(ctx context.Context, hits []mimecast.TrackedEmail) ([]json.RawMessage, error) {
	infos := []json.RawMessage{}
	asked := 0
	var failed error
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
		case isForbidden(err):
			return nil, err
		default:
			if failed == nil {
				failed = fmt.Errorf("getting message info of %s: %w", h.MimecastID, err)
			}
		}
	}
	return infos, failed
}

// content fetches the archived copy; nil with a nil error means the message is not archived.
// searched says hits are the message-finder hits of id already, so the search is not repeated.
func (p *enrichProcessor) content(ctx context.Context, id string, hits []mimecast.TrackedEmail, searched bool) (map[string]any, error) {
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
		return nil, fmt.Errorf("fetching archived content: %w", err)
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
