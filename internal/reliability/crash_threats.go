package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// ThreatsCrash shapes the mimecast_threats crash test.
type ThreatsCrash struct {
	Events            int // total backlog, split evenly over the sources; default 100,000
	PageSize          int // page_size; default 25
	MaxPagesInFlight  int // max_pages_in_flight; default 4
	SIEMEventsPerFile int // events per SIEM batch file; default 10

	// mapping replaces the pipeline's mapping; the harness's own tests use it to break the
	// pipeline and see the harness notice.
	mapping string
}

func (c *ThreatsCrash) withDefaults() {
	if c.Events <= 0 {
		c.Events = 100_000
	}
	if c.PageSize <= 0 {
		c.PageSize = 25
	}
	if c.MaxPagesInFlight <= 0 {
		c.MaxPagesInFlight = 4
	}
	if c.SIEMEventsPerFile <= 0 {
		c.SIEMEventsPerFile = 10
	}
	if c.mapping == "" {
		c.mapping = `root = {"feed": @mimecast_feed, "id": @mimecast_event_id}`
	}
}

// The crash pipeline reads four paged feeds and six SIEM types: ten sources, each with its own
// checkpoint, which is what a production pipeline with every threat feed looks like.
var (
	crashWindowFeeds = []string{"url_protect", "attachment_protect", "impersonation_protect", "threat_events"}
	crashSIEMTypes   = []string{"av", "spam", "internal email protect", "impersonation protect", "url protect", "attachment protect"}
)

// crashSpan is how far back the backlog reaches; it must stay inside the pipeline's lookback.
const (
	crashSpan     = 12 * time.Hour
	crashLookback = 24 * time.Hour
)

// RunThreatsCrash runs the crash test of mimecast_threats against a tenant with a backlog of
// c.Events events.
func RunThreatsCrash(ctx context.Context, opts CrashOptions, c ThreatsCrash) (*CrashReport, error) {
	c.withDefaults()
	sources := len(crashWindowFeeds) + len(crashSIEMTypes)
	fake, err := StartFake(mimecastfake.Options{
		Seed: opts.Seed,
		Sizes: mimecastfake.Sizes{
			EventsPerFeed:     c.Events / sources,
			Span:              crashSpan,
			SIEMEventsPerFile: c.SIEMEventsPerFile,
		},
	})
	if err != nil {
		return nil, err
	}
	defer fake.Close()
	now := time.Now()
	truth, err := threatsTruth(ctx, fake.URL, append(append([]string(nil), crashWindowFeeds...), "siem"), crashSIEMTypes, now.Add(-crashLookback), now.Add(time.Hour))
	if err != nil {
		return nil, fmt.Errorf("listing the tenant's events: %w", err)
	}
	fmt.Fprintf(opts.Log, "threats: tenant at %s holds %d events over %d sources\n", fake.URL, len(truth), sources)
	sc := &threatsScenario{c: c, fake: fake, state: filepath.Join(opts.Dir, "state")}
	return runCrash(ctx, opts, sc, truth)
}

type threatsScenario struct {
	c     ThreatsCrash
	fake  *Fake
	state string
}

func (s *threatsScenario) name() string { return "mimecast_threats" }

func (s *threatsScenario) env() map[string]string { return s.fake.Env() }

func (s *threatsScenario) resetMarker() string { return "starting at the lookback" }

func (s *threatsScenario) config(output string) string {
	feeds := append(append([]string(nil), crashWindowFeeds...), "siem")
	return fmt.Sprintf(`# Crash test pipeline: every event as one line {"feed","id"}.
http:
  enabled: false
input:
  mimecast_threats:
    api_url: ${MIMECAST_API_URL}
    client_id: ${MIMECAST_CLIENT_ID}
    client_secret: ${MIMECAST_CLIENT_SECRET}
    feeds: %s
    siem_event_types: %s
    poll_interval: 1s
    lookback: %s
    page_size: %d
    max_pages_in_flight: %d
    stats_interval: ""
    checkpoint_cache: checkpoints
cache_resources:
  - label: checkpoints
    file:
      directory: %s
pipeline:
  processors:
    - mapping: '%s'
output:
  file:
    path: %s
    codec: lines
metrics:
  none: {}
logger:
  level: warn
`, yamlList(feeds), yamlList(crashSIEMTypes), crashLookback, s.c.PageSize, s.c.MaxPagesInFlight, s.state, s.c.mapping, output)
}

func (s *threatsScenario) key(line []byte) (string, bool) {
	var ev struct {
		Feed string `json:"feed"`
		ID   string `json:"id"`
	}
	if err := json.Unmarshal(line, &ev); err != nil || ev.ID == "" {
		return "", false
	}
	return threatKey(ev.Feed, ev.ID), true
}

// boundPerKill: a source's checkpoint moves once a page (for SIEM: a listing page of batch
// files) and every page before it were acknowledged, and at most max_pages_in_flight pages
// wait for acknowledgement, so a kill replays at most that many pages of every source.
func (s *threatsScenario) boundPerKill() (int, string) {
	ttp := s.c.PageSize
	threats := min(s.c.PageSize, 100)
	siemPage := min(s.c.PageSize, 100) * s.c.SIEMEventsPerFile
	perPage := 3*ttp + threats + len(crashSIEMTypes)*siemPage
	return s.c.MaxPagesInFlight * perPage, fmt.Sprintf(
		"max_pages_in_flight %d x (3 TTP feeds x %d + threat_events %d + %d SIEM types x %d files x %d events)",
		s.c.MaxPagesInFlight, ttp, threats, len(crashSIEMTypes), min(s.c.PageSize, 100), s.c.SIEMEventsPerFile)
}

func yamlList(items []string) string {
	quoted := make([]string, len(items))
	for i, it := range items {
		quoted[i] = fmt.Sprintf("%q", it)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
