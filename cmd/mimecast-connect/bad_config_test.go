package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The bad-configuration table: each entry is a mistake a user can make, and the exact
// error they see, from `lint` where lint catches it, else from `run` at start-up. The same table
// is in docs/reliability.md; `go test ./cmd/mimecast-connect -run TestBadConfigs -update-reliability-doc`
// writes it there after a change.

var updateReliabilityDoc = flag.Bool("update-reliability-doc", false, "rewrite the bad-configuration table of docs/reliability.md")

const (
	stageLint    = "lint"
	stageStartUp = "start-up"
	// stageResources: lint refuses it, as a resource that no linted file defines; run, which
	// lints each file alone, refuses it at start-up with the same message.
	stageResources = "resources"
)

type badConfig struct {
	component string // where the mistake is: connection (shown on mimecast_threats), or a component
	mistake   string // what is wrong, in words
	fields    string // the component's fields besides its credentials (YAML at the component's level)
	stage     string // stageLint, stageStartUp or stageResources
	want      string // the error output, with the config file named pipeline.yaml
}

// config is the whole pipeline of bc.
func (bc badConfig) config() string {
	switch bc.component {
	case "mimecast_archive":
		return badConfigBase + "input:\n  mimecast_archive:\n" + indentBy(credentials(bc.fields)+bc.fields, "    ") + "output:\n  drop: {}\n"
	case "mimecast_enrich":
		return badConfigBase + "input:\n  generate:\n    mapping: 'root = {}'\n    count: 1\npipeline:\n  processors:\n    - mimecast_enrich:\n" +
			indentBy(credentials(bc.fields)+bc.fields, "        ") + "output:\n  drop: {}\n"
	default:
		return badConfigBase + "input:\n  mimecast_threats:\n" + indentBy(credentials(bc.fields)+bc.fields, "    ") + "output:\n  drop: {}\n"
	}
}

// credentials are the connection fields every entry has, unless it sets them itself.
func credentials(fields string) string {
	var b strings.Builder
	for _, f := range []string{"client_id: abc", "client_secret: x", "api_url: http://127.0.0.1:9"} {
		if !strings.Contains(fields, strings.SplitN(f, ":", 2)[0]+":") {
			b.WriteString(f + "\n")
		}
	}
	return b.String()
}

// badConfigBase is what every entry adds its block to: a component needs its credentials, and
// `run` must not open the HTTP server.
const badConfigBase = "http:\n  enabled: false\nlogger:\n  level: none\n"

func indentBy(s, pad string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if l != "" {
			b.WriteString(pad + l + "\n")
		}
	}
	return b.String()
}

var badConfigs = []badConfig{
	// The connection fields, shared by every component.
	{"connection", "client_id from an unset environment variable", "client_id: ${MIMECAST_TEST_UNSET_CLIENT_ID}\n", stageLint, "pipeline.yaml(1,1) required environment variables were not set: [MIMECAST_TEST_UNSET_CLIENT_ID]"},
	{"connection", "client_id empty", "client_id: ''\n", stageStartUp, "failed to init input <no label> path root.input: client_id: must not be empty"},
	{"connection", "page_size 0", "page_size: 0\n", stageLint, "pipeline.yaml(10,1) page_size must be between 1 and 500"},
	{"connection", "page_size above 500", "page_size: 1000\n", stageLint, "pipeline.yaml(10,1) page_size must be between 1 and 500"},
	{"connection", "retry_after_multiplier below 1", "retry_after_multiplier: 0.5\n", stageLint, "pipeline.yaml(10,1) retry_after_multiplier must be at least 1"},
	{"connection", "max_retries negative", "max_retries: -1\n", stageLint, "pipeline.yaml(10,1) max_retries must not be negative"},
	{"connection", "max_retry_wait not a duration", "max_retry_wait: soon\n", stageLint, "pipeline.yaml(10,1) max_retry_wait must be a positive duration such as 30s or 5m"},
	{"connection", "timeout zero", "timeout: 0s\n", stageLint, "pipeline.yaml(10,1) timeout must be a positive duration such as 30s or 5m"},
	{"connection", "trace_level unknown", "trace_level: verbose\n", stageLint, "pipeline.yaml(10,1) value verbose is not a valid option for this field"},
	{"connection", "retry_after_multiplier as a unit conversion", "retry_after_multiplier: 1000\n", stageLint, "pipeline.yaml(10,1) retry_after_multiplier must be at most 60: it multiplies the wait Mimecast asks for, which is already in time units (1000, as some collectors take it to turn seconds into milliseconds, is 1 here)"},
	{"connection", "max_body_bytes too small", "max_body_bytes: 100\n", stageLint, "pipeline.yaml(7,1) max_body_bytes: 100 is too small: use at least 1024"},
	{"connection", "token_expiry_offset not a duration", "token_expiry_offset: early\n", stageLint, "pipeline.yaml(7,1) failed to parse 'token_expiry_offset' as a duration string: time: invalid duration \"early\""},
	{"connection", "stats_interval not a duration", "stats_interval: hourly\n", stageLint, "pipeline.yaml(7,1) failed to parse 'stats_interval' as a duration string: time: invalid duration \"hourly\""},
	{"connection", "rate_limit resource not defined", "rate_limit: mimecast_quota\n", stageResources, "pipeline.yaml(10,1) rate_limit: rate_limit resource \"mimecast_quota\" is not defined: add it under rate_limit_resources or pass its file with -r"},
	{"connection", "api_url without a scheme", "api_url: us-api.services.mimecast.com\n", stageLint, "pipeline.yaml(7,1) api_url: \"us-api.services.mimecast.com\" is not an absolute http(s) URL such as https://api.services.mimecast.com"},
	{"connection", "TLS root CA file missing", "tls:\n  enabled: true\n  root_cas_file: /nonexistent/ca.pem\n", stageLint, "pipeline.yaml(7,1) tls: open /nonexistent/ca.pem: no such file or directory"},
	// mimecast_threats
	{"mimecast_threats", "unknown feed", "feeds: [phishing]\n", stageLint, "pipeline.yaml(10,1) unknown feed phishing: use one of threat_events, url_protect, attachment_protect, impersonation_protect, held_messages, siem"},
	{"mimecast_threats", "no feed", "feeds: []\n", stageLint, "pipeline.yaml(7,1) feeds: empty: name at least one of threat_events, url_protect, attachment_protect, impersonation_protect, held_messages, siem"},
	{"mimecast_threats", "unknown SIEM event type", "feeds: [siem]\nsiem_event_types: [virus]\n", stageLint, "pipeline.yaml(11,1) unknown SIEM event type virus: use one of receipt, process, delivery, av, spam, internal email protect, impersonation protect, url protect, attachment protect, journal"},
	{"mimecast_threats", "threat_types typo", "threat_types: [phishing, malwre]\n", stageLint, "pipeline.yaml(7,1) threat_types[1]: \"malwre\" matches nothing any feed sends (did you mean malware?): use values of malware, phishing, spam, suspicious, unwanted, url, attachment, impersonation, policy, internal"},
	{"mimecast_threats", "status no feed sends", "statuses: [quarantined]\n", stageLint, "pipeline.yaml(7,1) statuses[0]: \"quarantined\" matches nothing any feed sends: use values of blocked, rejected, delivered, held, bounced, sandboxed, allowed, warned, tagged, detected, released, unknown"},
	{"mimecast_threats", "threat_sources typo", "threat_sources: [e-mail]\n", stageLint, "pipeline.yaml(7,1) threat_sources[0]: \"e-mail\" matches nothing any feed sends (did you mean email?): use values of email, url, url_protect, attachment_protect, impersonation_protect, hold_queue, release_log, siem"},
	{"mimecast_threats", "selections no record of a feed passes", "threat_types: [url]\nthreat_sources: [email]\n", stageLint, "pipeline.yaml(7,1) feeds: threat_events never passes threat_types [url]: its records carry malware, phishing, spam, suspicious, unwanted; remove threat_events from feeds or add one of those values"},
	{"mimecast_threats", "siem without event types", "feeds: [siem]\nsiem_event_types: []\n", stageLint, "pipeline.yaml(7,1) siem_event_types: empty while feeds has siem: name at least one SIEM event type"},
	{"mimecast_threats", "max_bytes_in_flight negative", "max_bytes_in_flight: -1\n", stageLint, "pipeline.yaml(10,1) max_bytes_in_flight must not be negative"},
	{"connection", "max_in_flight zero", "max_in_flight: 0\n", stageLint, "pipeline.yaml(10,1) max_in_flight must be at least 1"},
	{"connection", "proxy_url not absolute", "proxy_url: proxy:3128\n", stageLint, "pipeline.yaml(7,1) proxy_url: \"proxy:3128\" is not an absolute URL such as http://proxy:3128"},
	{"mimecast_threats", "poll_interval zero", "poll_interval: 0s\n", stageLint, "pipeline.yaml(10,1) poll_interval must be a positive duration such as 30s or 5m"},
	{"mimecast_threats", "lookback negative", "lookback: -24h\n", stageLint, "pipeline.yaml(10,1) lookback must be a positive duration such as 30s or 5m"},
	{"mimecast_threats", "overlap negative", "overlap: -5m\n", stageLint, "pipeline.yaml(7,1) overlap: -5m0s is negative: use 0s for no overlap"},
	{"mimecast_threats", "filter that does not compile", "filters:\n  - expression: 'event.scanResult = \"malicious\"'\n", stageLint, "pipeline.yaml(7,1) filters[0].expression: ERROR: <input>:1:18: Syntax error: token recognition error at: '= '\n | event.scanResult = \"malicious\"\n | .................^\nERROR: <input>:1:20: Syntax error: extraneous input '\"malicious\"' expecting <EOF>\n | event.scanResult = \"malicious\"\n | ...................^"},
	{"mimecast_threats", "filter on a record field written without event.", "filters:\n  - expression: 'severity == \"high\"'\n", stageLint, "pipeline.yaml(7,1) filters[0].expression: ERROR: <input>:1:1: undeclared reference to 'severity' (in container '')\n | severity == \"high\"\n | ^\n(the record's fields are under event: write event.severity, or event.?severity.orValue(...) for a field that may be missing; the other names are feed, threat_type, status, source, message_id, event_time)"},
	{"mimecast_threats", "filter that is not a bool", "filters:\n  - expression: 'size(event)'\n", stageLint, "pipeline.yaml(7,1) filters[0].expression: must evaluate to bool, not int"},
	{"mimecast_threats", "filter action unknown", "filters:\n  - expression: 'true'\n    action: drop\n", stageLint, "pipeline.yaml(12,1) value drop is not a valid option for this field"},
	{"mimecast_threats", "checkpoint_cache not defined", "checkpoint_cache: checkpoints\n", stageResources, "pipeline.yaml(10,1) checkpoint_cache: cache resource \"checkpoints\" is not defined: add it under cache_resources or pass its file with -r"},
	{"mimecast_threats", "checkpoint_key with a path separator", "checkpoint_key: team/threats\n", stageLint, "pipeline.yaml(7,1) checkpoint_key: \"team/threats\" must be non-empty and hold no path separator (the file cache turns it into a file name)"},
	{"mimecast_threats", "max_pages_in_flight zero", "max_pages_in_flight: 0\n", stageLint, "pipeline.yaml(10,1) max_pages_in_flight must be at least 1"},
	{"mimecast_threats", "backfill_concurrency zero", "backfill_concurrency: 0\n", stageLint, "pipeline.yaml(10,1) backfill_concurrency must be at least 1"},
	{"mimecast_threats", "backfill_slice within the overlap", "backfill_slice: 5m\n", stageLint, "pipeline.yaml(7,1) backfill_slice: 5m0s is not longer than overlap (5m0s): the window of every poll would be cut up; use a longer slice, or 0s for none"},
	{"mimecast_threats", "misspelt field", "feed: [url_protect]\n", stageLint, "pipeline.yaml(10,1) field feed not recognised"},
	// mimecast_archive
	{"mimecast_archive", "invalid regular expression", "include_mailboxes: ['(legal']\n", stageLint, "pipeline.yaml(7,1) include_mailboxes[0]: invalid regular expression \"(legal\": error parsing regexp: missing closing ): `(?i)(legal`"},
	{"mimecast_archive", "start_date not a date", "start_date: last year\n", stageLint, "pipeline.yaml(7,1) start_date: \"last year\" is neither an RFC 3339 time, a date (2006-01-02) nor a positive duration back from now (2160h)"},
	{"mimecast_archive", "end_date before start_date", "start_date: 2025-01-01\nend_date: 2024-01-01\n", stageLint, "pipeline.yaml(7,1) end_date: the crawl would end at 2024-01-02T00:00:00Z, not after start_date 2025-01-01T00:00:00Z: put end_date after start_date"},
	{"mimecast_archive", "end_date the same day as start_date, given as a time", "start_date: 2025-01-01\nend_date: 2025-01-01T00:00:00Z\n", stageLint, "pipeline.yaml(7,1) end_date: the crawl would end at 2025-01-01T00:00:00Z, not after start_date 2025-01-01T00:00:00Z: put end_date after start_date"},
	{"mimecast_archive", "exclude_subjects with a bad regular expression", "exclude_subjects: ['[ooo']\n", stageLint, "pipeline.yaml(7,1) exclude_subjects[0]: invalid regular expression \"[ooo\": error parsing regexp: missing closing ]: `[ooo`"},
	{"mimecast_archive", "max_bytes_in_flight negative", "max_bytes_in_flight: -5\n", stageLint, "pipeline.yaml(10,1) max_bytes_in_flight must not be negative"},
	{"mimecast_archive", "request_concurrency zero", "request_concurrency: 0\n", stageLint, "pipeline.yaml(10,1) request_concurrency must be at least 1"},
	{"mimecast_archive", "mailbox_concurrency zero", "mailbox_concurrency: 0\n", stageLint, "pipeline.yaml(10,1) mailbox_concurrency must be at least 1"},
	{"mimecast_archive", "max_attachment_size negative", "max_attachment_size: -1\n", stageLint, "pipeline.yaml(10,1) max_attachment_size must not be negative"},
	{"mimecast_archive", "checkpoint_cache not defined", "checkpoint_cache: state\n", stageResources, "pipeline.yaml(10,1) checkpoint_cache: cache resource \"state\" is not defined: add it under cache_resources or pass its file with -r"},
	// mimecast_enrich
	{"mimecast_enrich", "unknown lookup", "lookups: [verdict]\n", stageLint, "pipeline.yaml(15,1) unknown lookup verdict: use one of tracking, message_info, content"},
	{"mimecast_enrich", "search_window past 30 days", "search_window: 1000h\n", stageLint, "pipeline.yaml(15,1) search_window must be a positive duration of at most 720h"},
	{"mimecast_enrich", "max_concurrency above 64", "max_concurrency: 100\n", stageLint, "pipeline.yaml(15,1) max_concurrency must be between 1 and 64"},
	{"mimecast_enrich", "cache not defined", "cache: lookups\n", stageResources, "pipeline.yaml(15,1) cache: cache resource \"lookups\" is not defined: add it under cache_resources or pass its file with -r"},
	{"mimecast_enrich", "on_forbidden unknown", "on_forbidden: ignore\n", stageLint, "pipeline.yaml(15,1) value ignore is not a valid option for this field"},
}

func TestBadConfigsFailWithTheDocumentedError(t *testing.T) {
	require.GreaterOrEqual(t, len(badConfigs), 20)
	dir := t.TempDir()
	for i, bc := range badConfigs {
		t.Run(bc.component+"/"+bc.mistake, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("c%02d", i), "pipeline.yaml")
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, []byte(bc.config()), 0o600))
			got := badConfigError(t, path, bc.stage)
			t.Logf("%s %s: %q", bc.stage, bc.mistake, got)
			assert.Equal(t, bc.want, got)
			// check refuses it too, with the same message.
			code, out := runCheckCLI(t, "check", path)
			assert.NotEqual(t, 0, code, "check must refuse it: %s", out)
			assert.Contains(t, strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(checkMessage(bc.want)), " "), "check says what lint and run say")
		})
	}
}

// checkMessage is the part of a lint or start-up error that check shows: the message after
// the file position or the component's path.
func checkMessage(want string) string {
	if _, msg, ok := strings.Cut(want, ") "); ok && strings.HasPrefix(want, "pipeline.yaml(") {
		return msg
	}
	if i := strings.Index(want, ": "); strings.HasPrefix(want, "failed to init") && i >= 0 {
		if _, msg, ok := strings.Cut(want, "path root."); ok {
			if _, m, ok := strings.Cut(msg, ": "); ok {
				return m
			}
		}
	}
	return want
}

// badConfigError runs lint (and for a start-up error, run) on path and returns the error line the
// user sees, with the file's directory cut so that it reads pipeline.yaml.
func badConfigError(t *testing.T, path, stage string) string {
	t.Helper()
	code, out := runCLIWithin(t, 10*time.Second, "lint", path)
	out = strings.ReplaceAll(out, filepath.Dir(path)+string(filepath.Separator), "")
	if stage == stageResources {
		assert.Equal(t, 1, code, "lint must reject it: %s", out)
		lintOut := strings.TrimSpace(out)
		_, message, _ := strings.Cut(lintOut, ") ")
		code, out = runCLIWithin(t, 10*time.Second, "run", path)
		assert.Equal(t, 1, code, "run must refuse it: %s", out)
		assert.Contains(t, out, message, "run says what lint says")
		return lintOut
	}
	if stage == stageLint {
		assert.Equal(t, 1, code, "lint must reject it: %s", out)
		lintOut := strings.TrimSpace(out)
		// run lints first and refuses to start on the same lint errors (it logs them; the
		// logger of these configs is off).
		code, out = runCLIWithin(t, 10*time.Second, "run", path)
		assert.Equal(t, 1, code, "run must refuse it: %s", out)
		assert.Contains(t, out, "shutting down due to linter errors")
		return lintOut
	}
	require.Equal(t, 0, code, "lint passes what only start-up can check: %s", out)
	code, out = runCLIWithin(t, 10*time.Second, "run", path)
	assert.Equal(t, 1, code, "run must fail at start-up: %s", out)
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "service closing due to: "))
}

// runCLIWithin is runCLI with a deadline, for `run`, which would not return if a config started.
func runCLIWithin(t *testing.T, timeout time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	code, printed, runErr := runCLIUntil(t, ctx, args...)
	if runErr != nil {
		printed += runErr.Error()
	}
	require.NoError(t, ctx.Err(), "%v did not return within %v", args, timeout)
	return code, printed
}

// runCLIUntil runs the CLI in-process with ctx and returns its exit code, what it printed on
// stdout and stderr, and its error. Not parallel: it swaps os.Stdout and os.Stderr.
func runCLIUntil(t *testing.T, ctx context.Context, args ...string) (int, string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	out := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = io.Copy(&b, r)
		out <- b.String()
	}()
	code, runErr := service.RunCLIToCode(ctx, append(cliOptions(), service.CLIOptSetArgs(append([]string{"mimecast-connect"}, args...)...))...)
	os.Stdout, os.Stderr = stdout, stderr
	require.NoError(t, w.Close())
	return code, <-out, runErr
}

// The markers around the generated table in docs/reliability.md.
const (
	badConfigDoc   = "../../docs/reliability.md"
	badConfigStart = "<!-- bad-configs:start (generated by TestReliabilityDocShowsTheBadConfigTable) -->"
	badConfigEnd   = "<!-- bad-configs:end -->"
)

// renderBadConfigTable is the Markdown table of badConfigs.
func renderBadConfigTable() string {
	cell := func(s string) string {
		s = strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(s), "\n", " ↵ "), "|", "\\|")
		if strings.Contains(s, "`") { // a code span holding a backtick needs a longer fence
			return "`` " + s + " ``"
		}
		return "`" + s + "`"
	}
	var b strings.Builder
	b.WriteString("| # | Component | Mistake | Fields | Caught by | What the user sees |\n| --- | --- | --- | --- | --- | --- |\n")
	for i, bc := range badConfigs {
		fields := strings.TrimSpace(bc.fields)
		caught := "`lint`"
		switch bc.stage {
		case stageStartUp:
			caught = "start-up (`run`)"
		case stageResources:
			caught = "`lint`, and start-up (`run`)"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", i+1, bc.component, bc.mistake, cell(fields), caught, cell(bc.want))
	}
	return b.String()
}

func TestReliabilityDocShowsTheBadConfigTable(t *testing.T) {
	raw, err := os.ReadFile(badConfigDoc)
	require.NoError(t, err)
	doc := string(raw)
	start, end := strings.Index(doc, badConfigStart), strings.Index(doc, badConfigEnd)
	require.True(t, start >= 0 && end > start, "docs/reliability.md needs the markers %q and %q", badConfigStart, badConfigEnd)
	table := renderBadConfigTable()
	current := strings.TrimSpace(doc[start+len(badConfigStart) : end])
	if *updateReliabilityDoc {
		doc = doc[:start+len(badConfigStart)] + "\n" + table + doc[end:]
		require.NoError(t, os.WriteFile(badConfigDoc, []byte(doc), 0o644))
		return
	}
	assert.Equal(t, strings.TrimSpace(table), current,
		"the table is out of date: go test ./cmd/mimecast-connect -run TestReliabilityDocShowsTheBadConfigTable -update-reliability-doc")
}

// lint --skip-env-var-check resolves an unset variable to nothing: the component's own
// validation leaves an empty value to start-up, where the environment is the real one, and
// still refuses what is wrong whatever the environment.
func TestLintJudgesEmptyValuesFromUnsetVariablesAtStartUp(t *testing.T) {
	dir := t.TempDir()
	write := func(name, fields string) string {
		path := filepath.Join(dir, name)
		conf := badConfigBase + "input:\n  mimecast_threats:\n    client_id: ${MIMECAST_TEST_UNSET_ID}\n    client_secret: ${MIMECAST_TEST_UNSET_SECRET:}\n    api_url: http://127.0.0.1:9\n" + indentBy(fields, "    ") + "output:\n  drop: {}\n"
		require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
		return path
	}
	code, out := runCLIWithin(t, 10*time.Second, "lint", "--skip-env-var-check", write("ok.yaml", "feeds: [url_protect]\n"))
	assert.Equal(t, 0, code, out)
	code, out = runCLIWithin(t, 10*time.Second, "lint", "--skip-env-var-check", write("bad.yaml", "overlap: -5m\n"))
	assert.Equal(t, 1, code, out)
	assert.Equal(t, 1, strings.Count(out, "overlap: -5m0s is negative"), "said once: %s", out)
}
