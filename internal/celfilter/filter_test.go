package celfilter

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompileRejectsBadRuleNamingIndexPositionAndMessage(t *testing.T) {
	ok := Rule{Expression: `feed == "malware"`, Action: ActionInclude}
	tests := []struct {
		name  string
		rules []Rule
		want  []string
	}{
		{
			name:  "undeclared variable",
			rules: []Rule{ok, ok, {Expression: `true && evnt.x == 1`, Action: ActionInclude}},
			want:  []string{"filters[2].expression: ERROR: <input>:1:9: undeclared reference to 'evnt'"},
		},
		{
			name:  "syntax error",
			rules: []Rule{{Expression: `event.x ==`, Action: ActionExclude}},
			want:  []string{"filters[0].expression: ERROR: <input>:1:11: Syntax error"},
		},
		{
			name:  "non-bool result",
			rules: []Rule{ok, {Expression: `event.x + 1`, Action: ActionInclude}},
			want:  []string{"filters[1].expression: must evaluate to bool, not int"},
		},
		{
			name:  "string result",
			rules: []Rule{{Expression: `feed`, Action: ActionInclude}},
			want:  []string{"filters[0].expression: must evaluate to bool, not string"},
		},
		{
			name:  "unknown action",
			rules: []Rule{ok, {Expression: `true`, Action: "maybe"}},
			want:  []string{`filters[1].action: "maybe" is not include or exclude`},
		},
		{
			name:  "missing action",
			rules: []Rule{{Expression: `true`}},
			want:  []string{`filters[0].action: "" is not include or exclude`},
		},
		{
			name:  "empty expression",
			rules: []Rule{{Expression: "  \n", Action: ActionInclude}},
			want:  []string{"filters[0].expression: must not be empty"},
		},
		{
			name:  "invalid constant regex",
			rules: []Rule{{Expression: `event.subject.matches("(")`, Action: ActionInclude}},
			want:  []string{"filters[0].expression:", "missing closing )"},
		},
		{
			name: "every bad rule is reported",
			rules: []Rule{
				{Expression: `evnt`, Action: ActionInclude},
				ok,
				{Expression: `true`, Action: "drop"},
			},
			want: []string{"filters[0].expression: ERROR: <input>:1:1: undeclared reference to 'evnt'", `filters[2].action: "drop"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := Compile(tc.rules)
			require.Error(t, err)
			assert.Nil(t, set)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Equal(t, err.Error(), Check(tc.rules).Error(), "Check must report what Compile reports")
		})
	}
}

func TestFiltersCannotReachFilesOrEnvironment(t *testing.T) {
	// CEL has no I/O; this pins that no library added to the environment
	// brought any in under the obvious names.
	for _, expr := range []string{
		`env("HOME") == ""`,
		`getenv("HOME") == ""`,
		`readFile("/etc/passwd") == ""`,
		`file("/etc/passwd").size() > 0`,
		`os.getenv("HOME") == ""`,
		`now() > event_time`,
	} {
		t.Run(expr, func(t *testing.T) {
			err := Check([]Rule{{Expression: expr, Action: ActionInclude}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "undeclared reference")
		})
	}
}

func TestCompileRejectsExpressionCertainToExceedCostLimit(t *testing.T) {
	// The literal lists make the minimum cost known: map() cannot stop
	// early, so this always runs 100^3 iterations.
	list := "[" + strings.Repeat("1,", 99) + "1]"
	expr := "size(" + list + ".map(a, " + list + ".map(b, " + list + ".map(c, a + b + c)))) > 0"

	err := Check([]Rule{{Expression: expr, Action: ActionInclude}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "filters[0].expression: estimated cost")
	assert.Contains(t, err.Error(), "exceeds the cost limit 10000")

	// Expressions over the event have an unknown size and must not be
	// rejected on the estimate alone.
	require.NoError(t, Check([]Rule{{Expression: `event.items.all(a, event.items.all(b, a != b))`, Action: ActionInclude}}))
}

func TestCompileAcceptsDynExpression(t *testing.T) {
	set, err := Compile([]Rule{{Expression: `event.flagged`, Action: ActionInclude}})
	require.NoError(t, err)
	assert.Equal(t, 1, set.Len())
}

func TestSetDescribesItself(t *testing.T) {
	set, err := Compile([]Rule{
		{Expression: `feed == "a"`, Action: ActionInclude},
		{Expression: `status == "b"`, Action: ActionExclude},
		{Expression: `source == "c"`, Action: ActionExclude},
	}, WithCostLimit(500), WithEvalTimeout(time.Second))
	require.NoError(t, err)
	assert.Equal(t, 3, set.Len())
	assert.Equal(t, "3 filters (1 include, 2 exclude), cost limit 500, time limit 1s per event", set.String())

	var nilSet *Set
	assert.Equal(t, 0, nilSet.Len())
	assert.Equal(t, "no filters (all events kept)", nilSet.String())

	empty, err := Compile(nil)
	require.NoError(t, err)
	assert.Equal(t, 0, empty.Len())
}

// A name that is not a variable is most often a record field written without event.
func TestUndeclaredReferenceSaysTheRecordIsUnderEvent(t *testing.T) {
	_, err := Compile([]Rule{{Expression: `severity == "high"`, Action: ActionInclude}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "undeclared reference to 'severity'")
	assert.Contains(t, err.Error(), "write event.severity, or event.?severity.orValue(...)")
	_, err = Compile([]Rule{{Expression: `event.severity ==`, Action: ActionInclude}})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "write event.", "a syntax error gets no such hint")
}
