package streamtest

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// ExpectedLog is one line a fault must add to the log: its level and a part of its text.
type ExpectedLog struct {
	Level slog.Level
	Text  string
}

// AssertLoggedOnce checks that added holds exactly one line for each of want (at its level and
// containing its text), at most one for each of optional, and nothing else.
func AssertLoggedOnce(t *testing.T, added []LogLine, want, optional []ExpectedLog) {
	t.Helper()
	used := make([]bool, len(added))
	match := func(e ExpectedLog) int {
		n := 0
		for i, l := range added {
			if l.Level == e.Level.String() && strings.Contains(l.Msg, e.Text) {
				used[i] = true
				n++
			}
		}
		return n
	}
	for _, e := range want {
		assert.Equal(t, 1, match(e), "lines at %s containing %q in %q", e.Level, e.Text, added)
	}
	for _, e := range optional {
		assert.LessOrEqual(t, match(e), 1, "lines at %s containing %q in %q", e.Level, e.Text, added)
	}
	for i, l := range added {
		assert.True(t, used[i], "unexpected log line %s %q", l.Level, l.Msg)
	}
}

// NewLogLines returns the lines at INFO or above that run logged and base did not.
func NewLogLines(base, run *Observer) []LogLine {
	known := map[string]bool{}
	for _, l := range base.LogLines(slog.LevelInfo) {
		known[l.Msg] = true
	}
	var out []LogLine
	for _, l := range run.LogLines(slog.LevelInfo) {
		// Benthos names the consumer with a random id on every start.
		if !known[l.Msg] && !strings.HasPrefix(l.Msg, "Sending inproc messages to ID") {
			out = append(out, l)
		}
	}
	return out
}
