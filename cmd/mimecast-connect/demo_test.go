package main

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDemoCountsSumsEachFeedAndTheArchive(t *testing.T) {
	metrics := `# HELP mimecast_threats_emitted Events emitted
# TYPE mimecast_threats_emitted counter
mimecast_threats_emitted{feed="siem",source="siem_av"} 12
mimecast_threats_emitted{feed="siem",source="siem_spam"} 3
mimecast_threats_emitted{feed="url_protect",source="url_protect"} 7
mimecast_threats_emitted_total_bogus 99
mimecast_archive_emails 5
input_received 1000
`
	c, err := parseDemoCounts(strings.NewReader(metrics))
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"siem": 15, "url_protect": 7}, c.feeds)
	assert.Equal(t, int64(5), c.emails)
	assert.Equal(t, `demo: 27 emitted so far (siem 15, url_protect 7, archive emails 5); the tenant keeps making events, Ctrl-C stops; next: README "Using it against a real tenant"`, demoSummaryLine(c))
	assert.Equal(t, "demo: nothing emitted yet", demoSummaryLine(demoCounts{feeds: map[string]int64{}}))
}

// The demo keeps going after the backlog: its tenant makes live events, and the summary lines
// on stderr count them per feed.
func TestDemoStreamsLiveEventsAndSummarizesEachFeed(t *testing.T) {
	// The demo runs until its context ends, as until Ctrl-C.
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	_, printed, runErr := runCLIUntil(t, ctx, "demo", "--summary-interval", "2s", "--live-events-per-hour", "1800", "../../config/threats_demo.yaml")
	require.NoError(t, runErr)

	total := regexp.MustCompile(`demo: (\d+) emitted so far \((.*)\)`)
	var totals []int
	for _, m := range total.FindAllStringSubmatch(printed, -1) {
		n, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		totals = append(totals, n)
		for _, feed := range []string{"threat_events", "url_protect", "siem"} {
			assert.Contains(t, m[2], feed+" ", "every feed of the demo is counted")
		}
	}
	require.GreaterOrEqual(t, len(totals), 3, "a summary every 2s: %s", lastLines(printed, 20))
	// The demo polls every 5s: over the run, the count grows past the backlog.
	assert.Greater(t, totals[len(totals)-1], totals[0], "events keep coming: %v", totals)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
