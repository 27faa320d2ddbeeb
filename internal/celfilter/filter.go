// Package celfilter decides which threat records the mimecast_threats input
// emits, using user-written CEL expressions.
//
// Each rule is a CEL expression over these variables:
//
//	event        map(string, dyn)  the record as decoded from the API
//	feed         string
//	threat_type  string
//	status       string
//	source       string
//	message_id   string
//	event_time   google.protobuf.Timestamp
//
// An event is kept when no include rule exists or at least one matches, and no
// exclude rule matches. Expressions are compiled once at start-up; at run time
// each evaluation is bounded by a cost limit, and rules that loop also by a
// time limit per event, so a filter can slow the input down by at most a fixed
// amount per event and can never hang it. A rule that fails on an event (a
// missing key, a limit hit) counts as not matching, and Match returns the error
// for the caller to count and log.
package celfilter

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	celast "github.com/google/cel-go/common/ast"
)

// Actions a rule can take when its expression matches.
const (
	ActionInclude = "include"
	ActionExclude = "exclude"
)

// DefaultCostLimit bounds the work one expression may do on one event, at
// roughly one unit per operation: an endsWith() check on each of 1,000
// recipients fits. It is lower than one might expect because cel-go's cost
// tracking makes a loop's CPU time grow with the square of its length; at this
// limit the worst loop found takes tens of milliseconds, at 100,000 seconds.
const DefaultCostLimit uint64 = 10_000

// DefaultEvalTimeout bounds the wall-clock time of all rules on one event.
// The cost limit normally stops runaway expressions long before; this catches
// the loops cel-go does not charge for.
const DefaultEvalTimeout = 100 * time.Millisecond

// Rule is one configured filter: a CEL expression and what to do on a match.
type Rule struct {
	Expression string
	Action     string
}

// Option configures Compile.
type Option func(*config)

type config struct {
	costLimit   uint64
	evalTimeout time.Duration
}

// WithCostLimit sets the cost limit applied to every evaluation; 0 keeps the
// default, because an unlimited filter could stall the input forever.
func WithCostLimit(limit uint64) Option {
	return func(c *config) {
		if limit > 0 {
			c.costLimit = limit
		}
	}
}

// WithEvalTimeout sets the wall-clock limit for evaluating all rules on one
// event; 0 or less keeps the default.
func WithEvalTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.evalTimeout = d
		}
	}
}

// Set is a compiled list of rules. It holds only immutable compiled programs,
// so one Set may be used by any number of goroutines at once.
type Set struct {
	// Excludes and includes are kept apart so Match can stop at the first
	// exclude hit without looking at the includes.
	excludes    []compiledRule
	includes    []compiledRule
	costLimit   uint64
	evalTimeout time.Duration
}

type compiledRule struct {
	index  int // position in the configured list, for error messages
	action string
	prog   cel.Program
	// loops is set when the expression has a comprehension (all, exists,
	// map, filter, ...), the only construct whose run time is not bounded
	// by the expression's size; only such rules are given a deadline.
	loops bool
}

// Compile checks and compiles rules. Every invalid rule is reported, each
// prefixed with its place in the config (`filters[2].expression: ...`), so a
// user can fix them all in one go.
func Compile(rules []Rule, opts ...Option) (*Set, error) {
	conf := config{costLimit: DefaultCostLimit, evalTimeout: DefaultEvalTimeout}
	for _, opt := range opts {
		opt(&conf)
	}
	env, err := baseEnv()
	if err != nil {
		return nil, fmt.Errorf("creating filter environment: %w", err)
	}

	set := &Set{costLimit: conf.costLimit, evalTimeout: conf.evalTimeout}
	var errs []error
	for i, r := range rules {
		cr, err := compileRule(env, i, r, conf.costLimit)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if cr.action == ActionExclude {
			set.excludes = append(set.excludes, cr)
		} else {
			set.includes = append(set.includes, cr)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

// Check reports whether rules would compile, for validating a config before
// anything is started.
func Check(rules []Rule, opts ...Option) error {
	_, err := Compile(rules, opts...)
	return err
}

// undeclaredHint explains an undeclared reference: the record's fields are under event.
func undeclaredHint(msg string) string {
	const marker = "undeclared reference to '"
	i := strings.Index(msg, marker)
	if i < 0 {
		return ""
	}
	name, _, _ := strings.Cut(msg[i+len(marker):], "'")
	return fmt.Sprintf("\n(the record's fields are under event: write event.%s, or event.?%s.orValue(...) for a field that may be missing; the other names are %s)", name, name, strings.Join(topLevelNames, ", "))
}

func compileRule(env *cel.Env, i int, r Rule, costLimit uint64) (compiledRule, error) {
	if r.Action != ActionInclude && r.Action != ActionExclude {
		return compiledRule{}, fmt.Errorf("filters[%d].action: %q is not %s or %s", i, r.Action, ActionInclude, ActionExclude)
	}
	if strings.TrimSpace(r.Expression) == "" {
		return compiledRule{}, fmt.Errorf("filters[%d].expression: must not be empty", i)
	}
	ast, iss := env.Compile(r.Expression)
	if iss.Err() != nil {
		// Issues already carry "ERROR: <input>:line:col: message" and a
		// caret under the offending position.
		return compiledRule{}, fmt.Errorf("filters[%d].expression: %w%s", i, iss.Err(), undeclaredHint(iss.Err().Error()))
	}
	// dyn is accepted because `event.flagged` is dyn and is usually a bool;
	// Match treats a non-bool result as an evaluation error.
	if out := ast.OutputType(); !out.IsExactType(cel.BoolType) && !out.IsExactType(cel.DynType) {
		return compiledRule{}, fmt.Errorf("filters[%d].expression: must evaluate to bool, not %s", i, out)
	}
	// Sizes of event fields are unknown at compile time, so the estimate's
	// maximum is unbounded for anything that loops over the event. Its minimum
	// is still a true lower bound: above the limit, the rule would fail on
	// every event, which is better reported now than as a metric later.
	est, err := env.EstimateCost(ast, noSizeHints{})
	if err != nil {
		return compiledRule{}, fmt.Errorf("filters[%d].expression: estimating cost: %w", i, err)
	}
	if est.Min > costLimit {
		return compiledRule{}, fmt.Errorf("filters[%d].expression: estimated cost %d exceeds the cost limit %d on every event", i, est.Min, costLimit)
	}
	prog, err := env.Program(ast,
		cel.CostLimit(costLimit),
		// Comprehensions poll the deadline this often; see deadline.
		cel.InterruptCheckFrequency(interruptCheckFrequency),
		// OptOptimize folds constants and compiles constant regexes of
		// matches() once here instead of on every event.
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return compiledRule{}, fmt.Errorf("filters[%d].expression: %w", i, err)
	}
	return compiledRule{index: i, action: r.Action, prog: prog, loops: hasComprehension(ast)}, nil
}

func hasComprehension(a *cel.Ast) bool {
	found := false
	celast.PreOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() == celast.ComprehensionKind {
			found = true
		}
	}))
	return found
}

// interruptCheckFrequency is how many comprehension iterations run between
// checks of the evaluation deadline: a check is an atomic add and a channel
// poll, cheap next to the iterations it separates.
const interruptCheckFrequency = 64

// noSizeHints leaves every size to the checker's defaults: unknown for
// variables, exact for literals.
type noSizeHints struct{}

func (noSizeHints) EstimateSize(checker.AstNode) *checker.SizeEstimate { return nil }

func (noSizeHints) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// Len is the number of rules; 0 for a nil Set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.includes) + len(s.excludes)
}

// String summarises the set for start-up logs without repeating the
// expressions, which can be long.
func (s *Set) String() string {
	if s.Len() == 0 {
		return "no filters (all events kept)"
	}
	return fmt.Sprintf("%d filters (%d include, %d exclude), cost limit %d, time limit %s per event",
		s.Len(), len(s.includes), len(s.excludes), s.costLimit, s.evalTimeout)
}
