package celfilter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleInput() Input {
	return Input{
		Event: map[string]any{
			"subject":    "Invoice OVERDUE - pay now",
			"senderIp":   "203.0.113.7",
			"score":      float64(87),
			"recipients": []any{"alice@example.com", "bob@example.org"},
			"flagged":    true,
			"details":    map[string]any{"verdict": "malicious"},
		},
		Feed:       "ttp_url",
		ThreatType: "phishing",
		Status:     "blocked",
		Source:     "threats_api",
		MessageID:  "<abc@example.com>",
		EventTime:  time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC),
	}
}

func mustCompile(t testing.TB, rules ...Rule) *Set {
	t.Helper()
	set, err := Compile(rules)
	require.NoError(t, err)
	return set
}

func include(expr string) Rule { return Rule{Expression: expr, Action: ActionInclude} }
func exclude(expr string) Rule { return Rule{Expression: expr, Action: ActionExclude} }

func TestMatchKeepsEventPerIncludeAndExcludeRules(t *testing.T) {
	const (
		yes = `true`
		no  = `false`
	)
	tests := []struct {
		name  string
		rules []Rule
		keep  bool
	}{
		{"no rules keeps", nil, true},
		{"only a matching exclude drops", []Rule{exclude(yes)}, false},
		{"only a non-matching exclude keeps", []Rule{exclude(no)}, true},
		{"only a matching include keeps", []Rule{include(yes)}, true},
		{"only a non-matching include drops", []Rule{include(no)}, false},
		{"any include matching is enough", []Rule{include(no), include(yes), include(no)}, true},
		{"no include matching drops", []Rule{include(no), include(no)}, false},
		{"exclude beats a matching include", []Rule{include(yes), exclude(yes)}, false},
		{"exclude before include in config beats it too", []Rule{exclude(yes), include(yes)}, false},
		{"matching include and non-matching exclude keeps", []Rule{include(yes), exclude(no)}, true},
		{"non-matching include and non-matching exclude drops", []Rule{include(no), exclude(no)}, false},
		{"any exclude matching drops", []Rule{exclude(no), exclude(yes)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keep, errs := mustCompile(t, tc.rules...).Match(sampleInput())
			assert.Empty(t, errs)
			assert.Equal(t, tc.keep, keep)
		})
	}
}

func TestMatchReadsEveryVariable(t *testing.T) {
	for _, expr := range []string{
		`feed == "ttp_url"`,
		`threat_type == "phishing"`,
		`status == "blocked"`,
		`source == "threats_api"`,
		`message_id == "<abc@example.com>"`,
		`event_time == timestamp("2024-06-01T12:00:00Z")`,
		`event.details.verdict == "malicious"`,
		`event.flagged`,
		`event.score > 80 && event.score < 90.5`,
		`size(event.recipients) == 2`,
		`"bob@example.org" in event.recipients`,
	} {
		t.Run(expr, func(t *testing.T) {
			keep, errs := mustCompile(t, include(expr)).Match(sampleInput())
			assert.Empty(t, errs)
			assert.True(t, keep)
		})
	}
}

func TestMissingKeyCountsAsNoMatchAndIsReported(t *testing.T) {
	tests := []struct {
		name  string
		rules []Rule
		keep  bool
		index int
	}{
		{"include on missing key drops", []Rule{include(`event.nope == "x"`)}, false, 0},
		{"exclude on missing key does not drop", []Rule{include(`true`), exclude(`event.nope == "x"`)}, true, 1},
		{"other include still matches", []Rule{include(`event.nope.deeper`), include(`feed == "ttp_url"`)}, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keep, errs := mustCompile(t, tc.rules...).Match(sampleInput())
			assert.Equal(t, tc.keep, keep)
			require.Len(t, errs, 1)
			var evalErr *EvalError
			require.ErrorAs(t, errs[0], &evalErr)
			assert.Equal(t, tc.index, evalErr.Index)
			assert.Contains(t, errs[0].Error(), fmt.Sprintf("filters[%d]", tc.index))
			assert.Contains(t, errs[0].Error(), "no such key: nope")
		})
	}
}

func TestGuardedMissingKeyIsNotAnError(t *testing.T) {
	set := mustCompile(t,
		include(`has(event.nope) && event.nope == "x"`),
		include(`event.?nope.orValue("") == ""`),
	)
	keep, errs := set.Match(sampleInput())
	assert.Empty(t, errs)
	assert.True(t, keep)
}

func TestNilEventBehavesAsEmptyRecord(t *testing.T) {
	in := sampleInput()
	in.Event = nil
	keep, errs := mustCompile(t, include(`!has(event.subject) && size(event) == 0`)).Match(in)
	assert.Empty(t, errs)
	assert.True(t, keep)
}

func TestDynResultThatIsNotBoolIsEvaluationError(t *testing.T) {
	set := mustCompile(t, include(`event.subject`))
	keep, errs := set.Match(sampleInput())
	assert.False(t, keep)
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], ErrNotBool)
	assert.Contains(t, errs[0].Error(), "got string")
}

func TestCostLimitStopsExpensiveExpressionAtRunTime(t *testing.T) {
	items := make([]any, 3000)
	for i := range items {
		items[i] = float64(i)
	}
	in := sampleInput()
	in.Event["items"] = items
	// 9 million iterations if nothing stopped it; exists() never finds a
	// match so it cannot stop early on its own. The time limit is set out of
	// reach so that only the cost limit can stop it.
	set, err := Compile([]Rule{exclude(`event.items.exists(a, event.items.exists(b, a + b < 0.0))`)},
		WithEvalTimeout(time.Hour))
	require.NoError(t, err)

	type result struct {
		keep bool
		errs []error
	}
	done := make(chan result, 1)
	go func() {
		keep, errs := set.Match(in)
		done <- result{keep, errs}
	}()
	select {
	case r := <-done:
		assert.True(t, r.keep, "a failed exclude must not drop the event")
		require.Len(t, r.errs, 1)
		assert.ErrorIs(t, r.errs[0], ErrCostLimitExceeded)
		assert.Contains(t, r.errs[0].Error(), "filters[0] (exclude)")
	case <-time.After(10 * time.Second):
		t.Fatal("expensive expression was not stopped by the cost limit")
	}
}

func TestTimeLimitStopsLoopTheCostLimitDoesNotCharge(t *testing.T) {
	items := make([]any, 200_000)
	for i := range items {
		items[i] = float64(i)
	}
	in := sampleInput()
	in.Event["items"] = items
	// cel-go charges no cost for this loop's steps; unbounded it takes
	// tens of seconds because cost tracking is quadratic in loop length.
	rules := []Rule{
		include(`event.items.exists_one(a, false)`),
		include(`feed == "ttp_url"`),
	}

	for name, opts := range map[string][]Option{
		"default limit":  nil,
		"explicit limit": {WithEvalTimeout(20 * time.Millisecond)},
	} {
		t.Run(name, func(t *testing.T) {
			set, err := Compile(rules, opts...)
			require.NoError(t, err)
			start := time.Now()
			keep, errs := set.Match(in)
			assert.Less(t, time.Since(start), 5*time.Second)
			assert.True(t, keep, "the second include still decides")
			require.Len(t, errs, 1)
			assert.ErrorIs(t, errs[0], ErrTimeLimitExceeded)
			assert.Contains(t, errs[0].Error(), "filters[0] (include)")
		})
	}
}

func TestDefaultCostLimitAllowsLoopOverThousandRecipients(t *testing.T) {
	recipients := make([]any, 1000)
	for i := range recipients {
		recipients[i] = fmt.Sprintf("user%05d@example.com", i)
	}
	in := sampleInput()
	in.Event["recipients"] = append(recipients, "last@example.org")

	// Only the cost limit is under test; the race detector can slow this
	// loop to near the default time limit.
	set, err := Compile([]Rule{include(`event.recipients.exists(r, r.endsWith("@example.org"))`)},
		WithEvalTimeout(time.Minute))
	require.NoError(t, err)
	keep, errs := set.Match(in)
	assert.Empty(t, errs)
	assert.True(t, keep)
}

func TestCostLimitOptionIsApplied(t *testing.T) {
	rules := []Rule{include(`event.recipients.exists(r, r.endsWith("@example.org"))`)}

	set, err := Compile(rules)
	require.NoError(t, err)
	keep, errs := set.Match(sampleInput())
	require.Empty(t, errs)
	assert.True(t, keep)

	tiny, err := Compile(rules, WithCostLimit(5))
	require.NoError(t, err)
	keep, errs = tiny.Match(sampleInput())
	assert.False(t, keep)
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], ErrCostLimitExceeded)
	assert.Contains(t, errs[0].Error(), "limit 5")
}

func TestEventTimeComparesWithTimestamps(t *testing.T) {
	set := mustCompile(t,
		include(`event_time > timestamp("2024-01-01T00:00:00Z") && event_time.getHours() == 12`),
		exclude(`event_time < timestamp("2024-03-01T00:00:00Z") - duration("24h")`),
	)
	tests := []struct {
		at   time.Time
		keep bool
	}{
		{time.Date(2024, 6, 1, 12, 30, 0, 0, time.UTC), true},
		{time.Date(2024, 6, 1, 13, 30, 0, 0, time.UTC), false},
		// 12:30 in UTC+2 is 10:30 UTC: getHours() must not use the input's zone.
		{time.Date(2024, 6, 1, 12, 30, 0, 0, time.FixedZone("CEST", 2*3600)), false},
		{time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC), false},
		{time.Date(2023, 12, 31, 12, 0, 0, 0, time.UTC), false},
		{time.Time{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.at.String(), func(t *testing.T) {
			in := sampleInput()
			in.EventTime = tc.at
			keep, errs := set.Match(in)
			assert.Empty(t, errs)
			assert.Equal(t, tc.keep, keep)
		})
	}
}

func TestStringFunctions(t *testing.T) {
	tests := []struct {
		expr string
		want bool
	}{
		{`event.subject.contains("OVERDUE")`, true},
		{`event.subject.contains("overdue")`, false},
		{`event.subject.lowerAscii().contains("overdue")`, true},
		{`event.subject.matches("(?i)^invoice\\s+overdue")`, true},
		{`event.subject.matches("^pay")`, false},
		{`event.senderIp.startsWith("203.0.113.")`, true},
		{`event.recipients.exists(r, r.endsWith("@example.org"))`, true},
		{`event.recipients.all(r, r.split("@")[1] == "example.com")`, false},
		{`message_id.trim() == "<abc@example.com>"`, true},
		// A pattern built at run time is compiled per event, still bounded by cost.
		{`event.subject.matches(threat_type.substring(0, 2) + "|" + "pay")`, true},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			keep, errs := mustCompile(t, include(tc.expr)).Match(sampleInput())
			assert.Empty(t, errs)
			assert.Equal(t, tc.want, keep)
		})
	}
}

func TestNumbersCompareWhetherDecodedAsFloatOrJSONNumber(t *testing.T) {
	raw := []byte(`{"score": 87, "ratio": 0.25, "big": 9007199254740993, "nested": {"list": [1, 2.5, {"n": 3}]}}`)
	set := mustCompile(t,
		include(`event.score == 87 && event.score > 80.5 && event.ratio < 1 && event.nested.list[0] == 1 && event.nested.list[1] > 2 && event.nested.list[2].n == 3.0 && event.big > 0`),
	)

	var plain map[string]any
	require.NoError(t, json.Unmarshal(raw, &plain))
	var numbers map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&numbers))

	for name, ev := range map[string]map[string]any{"float64": plain, "json.Number": numbers} {
		t.Run(name, func(t *testing.T) {
			keep, errs := set.Match(Input{Event: ev})
			assert.Empty(t, errs)
			assert.True(t, keep)
		})
	}
}

func TestNilSetKeepsEverything(t *testing.T) {
	var set *Set
	keep, errs := set.Match(sampleInput())
	assert.True(t, keep)
	assert.Nil(t, errs)
}

func TestMatchIsSafeForConcurrentUse(t *testing.T) {
	set := mustCompile(t,
		include(`feed == "ttp_url"`),
		include(`event.subject.lowerAscii().contains("invoice")`),
		exclude(`event.score < 50`),
	)

	const goroutines, perGoroutine = 8, 300
	var wg sync.WaitGroup
	failures := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				in := sampleInput()
				// Alternate kept and dropped events so a shared, racy
				// activation would show up as a wrong answer.
				score := float64(g*perGoroutine + i)
				in.Event["score"] = score
				in.Feed = "other"
				want := score >= 50
				keep, errs := set.Match(in)
				if len(errs) > 0 || keep != want {
					failures <- fmt.Errorf("score %v: keep=%v errs=%v", score, keep, errs)
					return
				}
			}
		})
	}
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
}

func TestEvalErrorUnwraps(t *testing.T) {
	inner := errors.New("boom")
	err := error(&EvalError{Index: 3, Action: ActionExclude, Err: inner})
	assert.ErrorIs(t, err, inner)
	assert.Equal(t, "filters[3] (exclude): evaluating: boom", err.Error())
}
