package enrich

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/refusal"
)

// enrichProcessor is one mimecast_enrich instance. Benthos shares it between all pipeline
// threads, so everything mutable is behind the flight group, the forbidden gate or the cache.
type enrichProcessor struct {
	cfg     *enrichConfig
	mgr     *service.Resources
	log     *service.Logger
	metrics enrichMetrics
	flights *flightGroup
	gate    *refusal.Gate
	now     func() time.Time

	cacheInit sync.Once
}

func newEnrichProcessor(cfg *enrichConfig, mgr *service.Resources) *enrichProcessor {
	return &enrichProcessor{
		cfg:     cfg,
		mgr:     mgr,
		log:     mgr.Logger(),
		metrics: newEnrichMetrics(mgr.Metrics()),
		flights: newFlightGroup(),
		gate:    refusal.New(cfg.forbiddenThreshold, forbiddenRecheck),
		now:     time.Now,
	}
}

// resolution is the outcome of one distinct message id of a batch.
type resolution struct {
	out    *outcome
	shared bool // the outcome came from a lookup another batch started
	err    error
}

// ProcessBatch enriches every message of the batch that has a message id. Each distinct id is
// resolved once, at most max_concurrency at a time; failures flag their messages and never the
// batch, so one bad id does not hold back the others.
func (p *enrichProcessor) ProcessBatch(ctx context.Context, batch service.MessageBatch) ([]service.MessageBatch, error) {
	var (
		order  []string             // distinct ids, in first-seen order
		byID   = map[string][]int{} // id -> indices of its messages
		merged int64
	)
	for i, m := range batch {
		raw, err := batch.TryInterpolatedString(i, p.cfg.messageID)
		if err != nil {
			p.metrics.errors.Incr(1)
			m.SetError(fmt.Errorf("mimecast_enrich: interpolating %s: %w", efMessageID, err))
			continue
		}
		id, ok := normalizeMessageID(raw)
		if !ok {
			p.metrics.noID.Incr(1)
			continue
		}
		// Checked before the lookup, so that a pipeline feeding text spends no quota.
		if err := checkObjectBody(m); err != nil {
			p.metrics.errors.Incr(1)
			m.SetError(fmt.Errorf("mimecast_enrich: the result of %s has nowhere to go: %w", id, err))
			continue
		}
		if _, seen := byID[id]; seen {
			merged++
		} else {
			order = append(order, id)
		}
		byID[id] = append(byID[id], i)
	}
	if len(order) == 0 {
		return []service.MessageBatch{batch}, nil
	}

	results := make([]resolution, len(order))
	sem := make(chan struct{}, p.cfg.maxConcurrency)
	var wg sync.WaitGroup
	for k, id := range order {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			results[k].err = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[k] = p.resolve(ctx, id)
		}()
	}
	wg.Wait()

	for k, id := range order {
		r := results[k]
		if r.shared {
			merged++
		}
		for _, i := range byID[id] {
			p.apply(batch[i], id, r)
		}
	}
	if merged > 0 {
		p.metrics.merged.Incr(merged)
	}
	return []service.MessageBatch{batch}, nil
}

// resolve returns the result of id from a lookup already running for it, the cache, or Mimecast,
// in that order. A result is written to the cache before the running lookup is forgotten, so a
// later caller finds it there: one lookup per id per cache TTL.
func (p *enrichProcessor) resolve(ctx context.Context, id string) resolution {
	out, shared, err := p.flights.do(ctx, id, func() (*outcome, error) {
		if p.cfg.cacheName != "" {
			if raw := p.cachedResult(ctx, id); raw != nil {
				return cachedOutcome(raw), nil
			}
		}
		out, err := p.lookup(ctx, id)
		if err != nil {
			return nil, err
		}
		if p.cfg.cacheName != "" && out.cacheable() {
			ttl := p.cfg.cacheTTL
			switch {
			case len(out.refused) > 0:
				ttl = &p.cfg.refusedCacheTTL
			case !out.found:
				ttl = &p.cfg.negativeCacheTTL
			}
			p.storeResult(ctx, id, out.raw, ttl)
		}
		return out, nil
	})
	return resolution{out: out, shared: shared, err: err}
}

// cachedOutcome is the outcome of a cached result: the lookups it names as refused are refused
// again, so that on_forbidden and the metrics treat it as they treated the first answer.
func cachedOutcome(raw []byte) *outcome {
	out := &outcome{raw: raw}
	var res struct {
		Found   bool     `json:"found"`
		Refused []string `json:"refused"`
	}
	if json.Unmarshal(raw, &res) == nil {
		out.found, out.refused = res.Found, res.Refused
		if len(res.Refused) > 0 {
			out.refusal = &forbiddenError{lookup: res.Refused[0], err: errRefusedBefore}
		}
	}
	return out
}

// errRefusedBefore stands for the 403 of a refusal the cache remembers.
var errRefusedBefore = errors.New("refused by Mimecast (403) when this message was looked up, remembered by the cache")

// apply puts a resolution into one message: the result under target_field, and an error flag
// when part of it failed, or was refused under on_forbidden: fail. The result stays on a flagged
// message: what the other lookups found is kept.
func (p *enrichProcessor) apply(m *service.Message, id string, r resolution) {
	if r.err != nil {
		p.metrics.errors.Incr(1)
		m.SetError(fmt.Errorf("mimecast_enrich: looking up message %s: %w", id, r.err))
		return
	}
	// Every message gets its own copy: messages that share an id are mutated independently
	// downstream, possibly on other threads.
	dec := json.NewDecoder(bytes.NewReader(r.out.raw))
	dec.UseNumber()
	var result map[string]any
	if err := dec.Decode(&result); err != nil {
		p.metrics.errors.Incr(1)
		m.SetError(fmt.Errorf("mimecast_enrich: decoding the result of %s: %w", id, err))
		return
	}
	body, err := m.AsStructuredMut()
	if err != nil {
		p.metrics.errors.Incr(1)
		m.SetError(fmt.Errorf("mimecast_enrich: the message body is not JSON, so the result of %s has nowhere to go: %w", id, err))
		return
	}
	if err := setAtPath(body, p.cfg.targetPath, result); err != nil {
		p.metrics.errors.Incr(1)
		m.SetError(fmt.Errorf("mimecast_enrich: placing the result of %s: %w", id, err))
		return
	}
	m.SetStructuredMut(body)
	if found, _ := result["found"].(bool); found {
		p.metrics.enriched.Incr(1)
	} else {
		p.metrics.notFound.Incr(1)
	}
	for _, lookup := range r.out.refused {
		p.metrics.forbidden.Incr(1, lookup)
	}
	if len(r.out.failed) > 0 {
		p.metrics.errors.Incr(1)
		f := r.out.failed[0]
		m.SetError(fmt.Errorf("mimecast_enrich: the %s lookup of message %s failed, the result has the other lookups: %w", f.lookup, id, f.err))
		return
	}
	if r.out.refusal != nil && p.cfg.onForbidden == onForbiddenFail {
		m.SetError(r.out.refusal)
	}
}

// checkObjectBody returns an error unless the message body is a JSON object.
func checkObjectBody(m *service.Message) error {
	body, err := m.AsStructured()
	if err != nil {
		return fmt.Errorf("the message body is not JSON: %w", err)
	}
	if _, ok := body.(map[string]any); !ok {
		return fmt.Errorf("the message body is a JSON %s, not an object", jsonKind(body))
	}
	return nil
}

// setAtPath sets v at path inside body (a JSON object), creating objects on the way.
func setAtPath(body any, path []string, v any) error {
	obj, ok := body.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: the message body is a JSON %s, not an object", efTargetField, jsonKind(body))
	}
	for i, seg := range path[:len(path)-1] {
		next, exists := obj[seg]
		if !exists || next == nil {
			child := map[string]any{}
			obj[seg] = child
			obj = child
			continue
		}
		if obj, ok = next.(map[string]any); !ok {
			return fmt.Errorf("%s: %q is a JSON %s, not an object", efTargetField, strings.Join(path[:i+1], "."), jsonKind(next))
		}
	}
	obj[path[len(path)-1]] = v
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	case map[string]any:
		return "object"
	default:
		return "number"
	}
}

// Close releases the shared Mimecast client.
func (p *enrichProcessor) Close(context.Context) error {
	p.cfg.conn.Close()
	return nil
}
