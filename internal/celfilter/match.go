package celfilter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// Input is one event as the filters see it.
type Input struct {
	// Event is the record as decoded JSON: map[string]any, []any, string,
	// float64 or json.Number, bool and nil. Numbers of either form compare
	// naturally with CEL int and double literals.
	Event      map[string]any
	Feed       string
	ThreatType string
	Status     string
	Source     string
	MessageID  string
	// EventTime is the record's own time; the zero time is passed through
	// as 0001-01-01T00:00:00Z rather than rejected.
	EventTime time.Time
}

// ErrCostLimitExceeded is wrapped by an EvalError when an expression was
// stopped for doing too much work on one event.
var ErrCostLimitExceeded = errors.New("cost limit exceeded")

// ErrTimeLimitExceeded is wrapped by an EvalError when the rules of one
// event ran past the evaluation time limit; see WithEvalTimeout.
var ErrTimeLimitExceeded = errors.New("time limit exceeded")

// ErrNotBool is wrapped by an EvalError when a dyn-typed expression produced
// something other than a bool for one event.
var ErrNotBool = errors.New("result is not a bool")

// EvalError reports that one rule could not be evaluated on one event. The
// rule then counts as not matching.
type EvalError struct {
	Index  int    // position of the rule in the configured list
	Action string // ActionInclude or ActionExclude
	Err    error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("filters[%d] (%s): evaluating: %v", e.Index, e.Action, e.Err)
}

func (e *EvalError) Unwrap() error { return e.Err }

// Match reports whether in should be emitted. Every rule that fails to
// evaluate counts as no match and its *EvalError is returned, so the caller
// can count and log it; errs is nil when nothing failed, and never means the
// event itself is bad. A nil or empty Set keeps everything.
func (s *Set) Match(in Input) (keep bool, errs []error) {
	if s.Len() == 0 {
		return true, nil
	}
	act := activationPool.Get().(*activation)
	act.in = in
	var dl deadline
	defer func() {
		dl.release()
		act.reset()
		activationPool.Put(act)
	}()

	// Excludes first: one hit settles the answer without running includes.
	for i := range s.excludes {
		hit, err := s.eval(&dl, &s.excludes[i], act)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if hit {
			return false, errs
		}
	}
	if len(s.includes) == 0 {
		return true, errs
	}
	for i := range s.includes {
		hit, err := s.eval(&dl, &s.includes[i], act)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if hit {
			return true, errs
		}
	}
	return false, errs
}

func (s *Set) eval(dl *deadline, r *compiledRule, act *activation) (bool, error) {
	var (
		val ref.Val
		err error
	)
	if r.loops {
		val, _, err = r.prog.ContextEval(dl.context(s.evalTimeout), act)
	} else {
		// Without a comprehension the cost limit alone bounds the run
		// time, and a plain Eval skips setting up a cancellable context.
		val, _, err = r.prog.Eval(act)
	}
	if err != nil {
		var cancelled interpreter.EvalCancelledError
		switch {
		case errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded:
			err = fmt.Errorf("%w (limit %d)", ErrCostLimitExceeded, s.costLimit)
		case errors.Is(err, context.DeadlineExceeded):
			err = fmt.Errorf("%w (limit %s)", ErrTimeLimitExceeded, s.evalTimeout)
		}
		return false, &EvalError{Index: r.index, Action: r.action, Err: err}
	}
	b, ok := val.(types.Bool)
	if !ok {
		return false, &EvalError{Index: r.index, Action: r.action,
			Err: fmt.Errorf("%w: got %s", ErrNotBool, val.Type().TypeName())}
	}
	return bool(b), nil
}

// deadline is the time limit shared by all rules on one event. It is a
// backstop for what the cost limit cannot see: cel-go v0.31.0 charges nothing
// for comprehension steps that call no function (`list.exists_one(x, false)`),
// and its cost tracker scans a stack that grows with every iteration, so a
// loop's CPU time grows with the square of its length. Comprehensions poll the
// context, so a runaway loop stops soon after the deadline. The timer is only
// started when a rule with a comprehension runs, so typical rules pay nothing.
type deadline struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func (d *deadline) context(timeout time.Duration) context.Context {
	if d.ctx == nil {
		d.ctx, d.cancel = context.WithTimeout(context.Background(), timeout)
	}
	return d.ctx
}

func (d *deadline) release() {
	if d.cancel != nil {
		d.cancel()
	}
}

// activationPool recycles activations: Eval needs an interface value, and a
// fresh one per call would cost an allocation holding a copy of the Input.
var activationPool = sync.Pool{New: func() any { return new(activation) }}

// activation resolves the declared variables straight from an Input, so no
// map of bindings is built per event. Each variable is converted to a CEL
// value at most once per Match, when a rule first reads it, and then shared by
// the following rules. An activation is used by one goroutine at a time.
type activation struct {
	in       Input
	resolved [numVars]ref.Val
}

// Indexes into activation.resolved.
const (
	idxEvent = iota
	idxFeed
	idxThreatType
	idxStatus
	idxSource
	idxMessageID
	idxEventTime
	numVars
)

func (a *activation) reset() {
	// Drop the event so the pool does not keep records alive.
	a.in = Input{}
	clear(a.resolved[:])
}

func (a *activation) ResolveName(name string) (any, bool) {
	var idx int
	switch name {
	case varEvent:
		idx = idxEvent
	case varFeed:
		idx = idxFeed
	case varThreatType:
		idx = idxThreatType
	case varStatus:
		idx = idxStatus
	case varSource:
		idx = idxSource
	case varMessageID:
		idx = idxMessageID
	case varEventTime:
		idx = idxEventTime
	default:
		return nil, false
	}
	if v := a.resolved[idx]; v != nil {
		return v, true
	}
	v := a.convert(idx)
	a.resolved[idx] = v
	return v, true
}

func (a *activation) convert(idx int) ref.Val {
	switch idx {
	case idxEvent:
		// A nil map behaves as {}: lookups fail with "no such key".
		return eventValues.NativeToValue(a.in.Event)
	case idxFeed:
		return types.String(a.in.Feed)
	case idxThreatType:
		return types.String(a.in.ThreatType)
	case idxStatus:
		return types.String(a.in.Status)
	case idxSource:
		return types.String(a.in.Source)
	case idxMessageID:
		return types.String(a.in.MessageID)
	default:
		return types.Timestamp{Time: a.in.EventTime}
	}
}

func (a *activation) Parent() interpreter.Activation { return nil }
