package refusal

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestGateClosesOnlyAfterDistinctRefusalsInARow(t *testing.T) {
	refused := errors.New("403")
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	type step struct {
		op         string // refuse <id>, ok, close, check
		id         string
		at         time.Duration
		wantClosed bool // refuse, close: this step closed it; ok: it reopened; check: closed now
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"one message refused again and again stays one", []step{
			{"refuse", "a", 0, false}, {"refuse", "a", 0, false}, {"refuse", "a", 0, false}, {"check", "", 0, false},
		}},
		{"three distinct messages close it", []step{
			{"refuse", "a", 0, false}, {"refuse", "b", 0, false}, {"refuse", "c", 0, true}, {"check", "", time.Minute, true},
		}},
		{"a success in between starts the count again", []step{
			{"refuse", "a", 0, false}, {"refuse", "b", 0, false}, {"ok", "", 0, false}, {"refuse", "c", 0, false}, {"check", "", 0, false},
		}},
		{"asked again after the recheck, and reopened by a success", []step{
			{"refuse", "a", 0, false}, {"refuse", "b", 0, false}, {"refuse", "c", 0, true},
			{"check", "", 5*time.Minute + time.Second, false}, {"ok", "", 5*time.Minute + time.Second, true}, {"check", "", 5*time.Minute + time.Second, false},
		}},
		{"a refused probe closes it at the first refusal", []step{
			{"refuse", "a", 0, false}, {"close", "", 0, true}, {"check", "", time.Minute, true}, {"close", "", time.Minute, false},
		}},
		{"a refused recheck closes it again without a new closing", []step{
			{"refuse", "a", 0, false}, {"refuse", "b", 0, false}, {"refuse", "c", 0, true},
			{"refuse", "d", 6 * time.Minute, false}, {"check", "", 7 * time.Minute, true},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := New(DefaultThreshold, DefaultRecheck)
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				switch s.op {
				case "refuse":
					assert.Equal(t, s.wantClosed, g.Refused("content", s.id, refused, now), "step %d", i)
				case "ok":
					assert.Equal(t, s.wantClosed, g.Succeeded("content"), "step %d", i)
				case "close":
					assert.Equal(t, s.wantClosed, g.Close("content", refused, now), "step %d", i)
				case "check":
					assert.Equal(t, s.wantClosed, g.ClosedFor("content", now) != nil, "step %d", i)
				}
			}
			assert.Nil(t, g.ClosedFor("other lookup", t0), "lookups close apart")
			assert.Zero(t, g.Streak("other lookup"))
		})
	}
}

func TestGateStreakIsBoundedByTheThreshold(t *testing.T) {
	g := New(DefaultThreshold, DefaultRecheck)
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for i := range 10000 {
		g.Refused("content", fmt.Sprint("message-", i), errors.New("403"), t0.Add(time.Duration(i)*DefaultRecheck))
	}
	assert.Equal(t, DefaultThreshold, g.Streak("content"), "a long refusal remembers no more ids than it needs")
	assert.NotNil(t, g.ClosedFor("content", t0.Add(10000*DefaultRecheck-time.Second)))
}
