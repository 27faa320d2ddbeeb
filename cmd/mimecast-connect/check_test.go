package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// checkTenant is a simulated tenant over real HTTP that remembers every access token it issued,
// so that tests can show none of them is ever printed.
type checkTenant struct {
	*httptest.Server
	mu     sync.Mutex
	tokens []string
}

func startCheckTenant(t *testing.T, opts mimecastfake.Options) *checkTenant {
	t.Helper()
	tn := &checkTenant{}
	fake := mimecastfake.New(opts)
	tn.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/token" {
			fake.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, r)
		var body struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &body) == nil && body.AccessToken != "" {
			tn.mu.Lock()
			tn.tokens = append(tn.tokens, body.AccessToken)
			tn.mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(tn.Close)
	return tn
}

func (tn *checkTenant) issuedTokens() []string {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return slices.Clone(tn.tokens)
}

// withholding is a tenant whose one application lacks product.
func withholding(product string) mimecastfake.Options {
	var granted []string
	for _, p := range mimecastfake.AllProducts {
		if p != product {
			granted = append(granted, p)
		}
	}
	return mimecastfake.Options{Clients: []mimecastfake.ClientApp{{
		ID: mimecastfake.DefaultClientID, Secret: mimecastfake.DefaultClientSecret, Products: granted,
	}}}
}

// fullPipeline turns on every feature of every component: the threats input with all feeds and
// content, the enrich processor with all lookups (nested in a branch), and the archive crawler
// with attachments, as an input resource.
const fullPipeline = `
input:
  label: threats
  mimecast_threats:
    api_url: ${MC_URL}
    client_id: ${MC_ID}
    client_secret: ${MC_SECRET}
    feeds: [threat_events, url_protect, attachment_protect, impersonation_protect, held_messages, siem]
    siem_event_types: [url protect, av]
    content_view: true
    checkpoint_cache: checkpoints
pipeline:
  processors:
    - branch:
        processors:
          - label: lookup
            mimecast_enrich:
              api_url: ${MC_URL}
              client_id: ${MC_ID}
              client_secret: ${MC_SECRET}
              lookups: [tracking, message_info, content]
input_resources:
  - label: crawler
    mimecast_archive:
      api_url: ${MC_URL}
      client_id: ${MC_ID}
      client_secret: ${MC_SECRET}
      extract_attachments: true
      checkpoint_cache: checkpoints
cache_resources:
  - label: checkpoints
    file:
      directory: ${MC_STATE_DIR:/nonexistent/check-never-opens-caches}
output:
  drop: {}
`

// Endpoints each component of fullPipeline calls, by kind.
var fullPipelineEndpoints = map[string][]string{
	kindThreats: {mimecast.PathThreatEvents, mimecast.PathURLLogs, mimecast.PathAttachmentLogs, mimecast.PathImpersonationLogs, mimecast.PathHoldMessageList, mimecast.PathHeldReleaseLogs,
		mimecast.PathSIEMBatch, mimecast.PathMessageFinderSearch, mimecast.PathArchiveSearch, mimecast.PathMessageDetail, mimecast.PathMessagePart},
	kindEnrich:  {mimecast.PathMessageFinderSearch, mimecast.PathMessageInfo, mimecast.PathArchiveSearch, mimecast.PathMessageDetail, mimecast.PathMessagePart},
	kindArchive: {mimecast.PathInternalDomains, mimecast.PathInternalUsers, mimecast.PathArchiveSearch, mimecast.PathMessagePart},
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func envOf(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func tenantEnv(tn *checkTenant) map[string]string {
	return map[string]string{"MC_URL": tn.URL, "MC_ID": mimecastfake.DefaultClientID, "MC_SECRET": mimecastfake.DefaultClientSecret}
}

type checkRun struct {
	code           int
	stdout, stderr string
	report         checkReport
}

func runCheckFor(t *testing.T, req checkRequest) checkRun {
	t.Helper()
	if req.now == nil {
		req.now = time.Now
	}
	if req.format == "" {
		req.format = formatJSON
	}
	var stdout, stderr bytes.Buffer
	r := checkRun{code: runCheck(t.Context(), req, &stdout, &stderr)}
	r.stdout, r.stderr = stdout.String(), stderr.String()
	if req.format == formatJSON {
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &r.report), "the JSON report parses: %s", r.stdout)
	}
	return r
}

// rowsByKind indexes a report: kind -> endpoint -> row.
func rowsByKind(t *testing.T, rep checkReport) map[string]map[string]checkRow {
	t.Helper()
	out := map[string]map[string]checkRow{}
	for _, c := range rep.Components {
		require.NotContains(t, out, c.Kind, "one component of each kind in the test pipeline")
		out[c.Kind] = map[string]checkRow{}
		for _, row := range c.Checks {
			key := row.Endpoint
			if row.Feature == "token" || row.Feature == "config" {
				key = row.Feature
			}
			out[c.Kind][key] = row
		}
	}
	return out
}

func TestCheckPassesWhenTheApplicationHasEveryPermission(t *testing.T) {
	t.Parallel()
	tn := startCheckTenant(t, mimecastfake.Options{})
	cfg := writeFile(t, "pipeline.yaml", fullPipeline)

	r := runCheckFor(t, checkRequest{configPath: cfg, lookupEnv: envOf(tenantEnv(tn))})
	require.Equal(t, exitAllOK, r.code, r.stdout)
	assert.True(t, r.report.OK)
	assert.Equal(t, exitAllOK, r.report.ExitCode)

	rows := rowsByKind(t, r.report)
	require.Len(t, rows, 3)
	for kind, endpoints := range fullPipelineEndpoints {
		got := rows[kind]
		require.Contains(t, got, "token", kind)
		assert.Equal(t, resultOK, got["token"].Result, kind)
		assert.Equal(t, "token valid for 29m59s", got["token"].Hint, "the fake reports expires_in 1799")
		require.NotNil(t, got["token"].TokenLifetimeSeconds)
		assert.EqualValues(t, 1799, *got["token"].TokenLifetimeSeconds)
		for _, ep := range endpoints {
			require.Contains(t, got, ep, "%s calls %s", kind, ep)
			assert.Equal(t, resultOK, got[ep].Result, "%s %s: %+v", kind, ep, got[ep])
		}
		assert.Len(t, got, len(endpoints)+1, "%s: one row per endpoint plus the token", kind)
	}
	paths := map[string]string{}
	for _, c := range r.report.Components {
		paths[c.Kind] = c.Path + " " + c.Label
	}
	assert.Equal(t, map[string]string{
		kindThreats: "root.input threats",
		kindEnrich:  "root.pipeline.processors.0.branch.processors.0 lookup",
		kindArchive: "root.input_resources.0 crawler",
	}, paths)
	assert.Contains(t, rows[kindArchive][mimecast.PathMessagePart].Feature, "attachments")
	assert.Equal(t, "tracking, message_info, content", rows[kindEnrich][mimecast.PathMessageFinderSearch].Feature)
}

func TestCheckTableNeverShowsTheSecretOrAToken(t *testing.T) {
	t.Parallel()
	tn := startCheckTenant(t, withholding(mimecastfake.ProductURLProtect))
	cfg := writeFile(t, "pipeline.yaml", fullPipeline)

	r := runCheckFor(t, checkRequest{configPath: cfg, format: formatTable, lookupEnv: envOf(tenantEnv(tn))})
	assert.Equal(t, exitNotAllOK, r.code)
	out := r.stdout + r.stderr
	assert.Contains(t, out, "COMPONENT")
	assert.Contains(t, out, "root.input (mimecast_threats threats)")
	assert.Regexp(t, `POST /api/ttp/url/get-logs\s+forbidden\s+grant .*Monitoring \| URL Protection \| Read`, out)
	assert.Contains(t, out, "token valid for 29m59s")
	assert.Contains(t, out, "1 of 23 checks of 3 Mimecast component(s) did not pass")

	assert.NotContains(t, out, mimecastfake.DefaultClientSecret)
	tokens := tn.issuedTokens()
	require.NotEmpty(t, tokens)
	for _, tok := range tokens {
		assert.NotContains(t, out, tok)
	}
}

func TestCheckNamesTheMissingPermissionForEachWithheldProduct(t *testing.T) {
	t.Parallel()
	// What the fake puts behind each product, and the permission an admin must grant for each
	// endpoint (the README's table, written out again here on purpose).
	productEndpoints := map[string][]string{
		mimecastfake.ProductDirectory:         {mimecast.PathInternalDomains, mimecast.PathInternalUsers},
		mimecastfake.ProductSIEM:              {mimecast.PathSIEMBatch},
		mimecastfake.ProductThreats:           {mimecast.PathThreatEvents},
		mimecastfake.ProductURLProtect:        {mimecast.PathURLLogs},
		mimecastfake.ProductAttachmentProtect: {mimecast.PathAttachmentLogs},
		mimecastfake.ProductImpersonation:     {mimecast.PathImpersonationLogs},
		mimecastfake.ProductHeld:              {mimecast.PathHoldMessageList, mimecast.PathHeldReleaseLogs},
		mimecastfake.ProductTracking:          {mimecast.PathMessageFinderSearch, mimecast.PathMessageInfo},
		mimecastfake.ProductArchive:           {mimecast.PathArchiveSearch, mimecast.PathMessageDetail},
		mimecastfake.ProductContentView:       {mimecast.PathMessagePart},
		mimecastfake.ProductAccount:           nil, // no component needs the account endpoint
	}
	wantRole := map[string]string{
		mimecast.PathInternalDomains:     "Directories | Internal Directories | Read",
		mimecast.PathInternalUsers:       "Directories | Internal Directories | Read",
		mimecast.PathSIEMBatch:           "Security Events and Data Retrieval - Threat and security statistics - Read",
		mimecast.PathThreatEvents:        "Security Events and Data Retrieval - Threat and security statistics - Read",
		mimecast.PathURLLogs:             "Monitoring | URL Protection | Read",
		mimecast.PathAttachmentLogs:      "Monitoring | Attachment Protection | Read",
		mimecast.PathImpersonationLogs:   "Monitoring | Impersonation Protection | Read",
		mimecast.PathHoldMessageList:     "Account | Dashboard | Read",
		mimecast.PathHeldReleaseLogs:     "Account | Dashboard | Read",
		mimecast.PathMessageFinderSearch: "Gateway | Tracking | Read",
		mimecast.PathMessageInfo:         "Gateway | Tracking | Read",
		mimecast.PathArchiveSearch:       "Archive | Search | Read",
		mimecast.PathMessageDetail:       "Archive | Search Content View",
		mimecast.PathMessagePart:         "Archive | Search Content View",
	}
	require.ElementsMatch(t, mimecastfake.AllProducts, mapKeys(productEndpoints), "every product of the fake is withheld once")
	cfg := writeFile(t, "pipeline.yaml", fullPipeline)

	for _, product := range mimecastfake.AllProducts {
		t.Run(product, func(t *testing.T) {
			t.Parallel()
			tn := startCheckTenant(t, withholding(product))
			r := runCheckFor(t, checkRequest{configPath: cfg, lookupEnv: envOf(tenantEnv(tn))})

			withheld := productEndpoints[product]
			rows := rowsByKind(t, r.report)
			for kind, endpoints := range fullPipelineEndpoints {
				var wantForbidden, gotForbidden []string
				for _, ep := range endpoints {
					if slices.Contains(withheld, ep) {
						wantForbidden = append(wantForbidden, ep)
					}
				}
				for ep, row := range rows[kind] {
					switch row.Result {
					case resultForbidden:
						gotForbidden = append(gotForbidden, ep)
						assert.Contains(t, row.Hint, wantRole[ep], "%s %s", kind, ep)
						assert.Equal(t, wantRole[ep], row.Permission, "%s %s", kind, ep)
						assert.NotEmpty(t, row.Product, "%s %s", kind, ep)
					case resultFailed:
						t.Errorf("%s %s failed rather than forbidden or ok: %+v", kind, ep, row)
					}
				}
				assert.ElementsMatch(t, wantForbidden, gotForbidden, "forbidden endpoints of %s", kind)
			}
			if len(withheld) == 0 {
				assert.Equal(t, exitAllOK, r.code, "nothing the pipeline needs was withheld")
			} else {
				assert.Equal(t, exitNotAllOK, r.code)
				assert.False(t, r.report.OK)
			}
		})
	}
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestCheckReportsRefusedCredentialsWithoutPrintingThem(t *testing.T) {
	t.Parallel()
	tn := startCheckTenant(t, mimecastfake.Options{})
	cfg := writeFile(t, "pipeline.yaml", fullPipeline)
	env := tenantEnv(tn)
	env["MC_SECRET"] = "not-the-secret-9f8e7d"

	for _, format := range []string{formatJSON, formatTable} {
		r := runCheckFor(t, checkRequest{configPath: cfg, format: format, lookupEnv: envOf(env)})
		assert.Equal(t, exitNotAllOK, r.code)
		assert.NotContains(t, r.stdout+r.stderr, "not-the-secret-9f8e7d", format)
		if format != formatJSON {
			continue
		}
		for kind, rows := range rowsByKind(t, r.report) {
			tok := rows["token"]
			assert.Equal(t, resultFailed, tok.Result, kind)
			assert.Contains(t, tok.Error, "HTTP 401 InvalidClientIdentifier", kind)
			assert.Contains(t, tok.Hint, "check client_id and client_secret", kind)
			for ep, row := range rows {
				if ep != "token" {
					assert.Equal(t, "not checked: no token", row.Hint, "%s %s", kind, ep)
				}
			}
		}
	}
	assert.Empty(t, tn.issuedTokens())
}

func TestCheckGivesUpOnAnUnreachableHostWithinTheTimeout(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := closed.Addr().String()
	require.NoError(t, closed.Close())

	// A host that accepts connections and never answers: only the timeout ends the wait.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = silent.Close() })
	var held []net.Conn
	var heldMu sync.Mutex
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			heldMu.Lock()
			held = append(held, c)
			heldMu.Unlock()
		}
	}()
	t.Cleanup(func() {
		heldMu.Lock()
		defer heldMu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})

	for name, tc := range map[string]struct {
		addr string
		hint string
	}{
		"closed port": {closedAddr, "could not reach the token endpoint"},
		"silent host": {silent.Addr().String(), "no answer within 300ms"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := writeFile(t, "pipeline.yaml", fmt.Sprintf(`
input:
  mimecast_threats:
    api_url: http://%s
    client_id: id
    client_secret: secret-abcdef
    timeout: 300ms
    feeds: [threat_events, url_protect]
output:
  drop: {}
`, tc.addr))
			started := time.Now()
			r := runCheckFor(t, checkRequest{configPath: cfg, lookupEnv: envOf(nil)})
			assert.Less(t, time.Since(started), 5*time.Second, "bounded by the component's timeout")
			assert.Equal(t, exitNotAllOK, r.code)
			require.Len(t, r.report.Components, 1)
			checks := r.report.Components[0].Checks
			require.Len(t, checks, 3)
			assert.Equal(t, "token", checks[0].Feature)
			assert.Equal(t, resultFailed, checks[0].Result)
			assert.Contains(t, checks[0].Hint, tc.hint)
			assert.NotEmpty(t, checks[0].Error)
			for _, c := range checks[1:] {
				assert.Equal(t, resultFailed, c.Result)
			}
		})
	}
}

func TestCheckExitsTwoWhenTheConfigHasNoMimecastComponent(t *testing.T) {
	t.Parallel()
	cfg := writeFile(t, "pipeline.yaml", `
input:
  generate:
    mapping: 'root = {"mimecast_threats": "only a value"}'
pipeline:
  processors:
    - mapping: root = this
output:
  drop: {}
tests:
  - name: mocks are not part of the pipeline
    target_processors: /pipeline/processors
    mocks:
      x:
        mimecast_enrich: {}
    input_batch: []
`)
	r := runCheckFor(t, checkRequest{configPath: cfg, format: formatTable, lookupEnv: envOf(nil)})
	assert.Equal(t, exitNoComponent, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "no mimecast_threats, mimecast_archive or mimecast_enrich component in "+cfg)

	r = runCheckFor(t, checkRequest{configPath: cfg, lookupEnv: envOf(nil)})
	assert.Equal(t, exitNoComponent, r.code)
	assert.Equal(t, exitNoComponent, r.report.ExitCode)
	assert.Empty(t, r.report.Components)
}

func TestCheckResolvesEnvironmentVariablesAsRunDoes(t *testing.T) {
	t.Parallel()
	tn := startCheckTenant(t, mimecastfake.Options{})
	cfg := writeFile(t, "pipeline.yaml", `
input:
  mimecast_threats:
    api_url: ${CHECK_TEST_URL}
    client_id: ${CHECK_TEST_ID:fake-client-id}
    client_secret: ${CHECK_TEST_SECRET:wrong-default}
    feeds: [url_protect]
output:
  drop: {}
`)
	env := map[string]string{"CHECK_TEST_URL": tn.URL, "CHECK_TEST_SECRET": mimecastfake.DefaultClientSecret}
	r := runCheckFor(t, checkRequest{configPath: cfg, lookupEnv: envOf(env)})
	require.Equal(t, exitAllOK, r.code, r.stdout)
	assert.Equal(t, tn.URL, r.report.Components[0].APIURL)
	assert.Equal(t, mimecastfake.DefaultClientID, r.report.Components[0].ClientID, "the default of an unset variable")

	r = runCheckFor(t, checkRequest{configPath: cfg, format: formatTable, lookupEnv: envOf(nil)})
	assert.Equal(t, exitNotAllOK, r.code)
	assert.Contains(t, r.stderr, "required environment variables were not set: [CHECK_TEST_URL]")
}

func TestCheckNeedsTheRateLimitResourceTheComponentNames(t *testing.T) {
	t.Parallel()
	tn := startCheckTenant(t, mimecastfake.Options{})
	cfg := writeFile(t, "pipeline.yaml", fmt.Sprintf(`
input:
  mimecast_threats:
    api_url: %s
    client_id: fake-client-id
    client_secret: fake-client-secret
    rate_limit: mimecast_quota
    feeds: [threat_events]
output:
  drop: {}
`, tn.URL))
	resources := writeFile(t, "rate_limit.yaml", `
rate_limit_resources:
  - label: mimecast_quota
    local:
      count: 1
      interval: 1h
processor_resources:
  - label: enrich
    mimecast_enrich:
      api_url: `+tn.URL+`
      client_id: fake-client-id
      client_secret: fake-client-secret
`)

	r := runCheckFor(t, checkRequest{configPath: cfg, lookupEnv: envOf(nil)})
	assert.Equal(t, exitNotAllOK, r.code)
	require.Len(t, r.report.Components, 1)
	require.NotEmpty(t, r.report.Components[0].Checks)
	assert.Equal(t, "config", r.report.Components[0].Checks[0].Feature)
	assert.Contains(t, r.report.Components[0].Checks[0].Error, `rate_limit resource "mimecast_quota" is not defined`)

	// The local rate limit allows one call an hour: check does not consult it (it makes one
	// call per feature), so both components pass.
	r = runCheckFor(t, checkRequest{configPath: cfg, resources: []string{resources}, lookupEnv: envOf(nil)})
	require.Equal(t, exitAllOK, r.code, r.stdout)
	require.Len(t, r.report.Components, 2)
	assert.Equal(t, resources+"#root.processor_resources.0", r.report.Components[1].Path)
}

func TestCheckReportsLintErrorsOfTheComponent(t *testing.T) {
	t.Parallel()
	tn := startCheckTenant(t, mimecastfake.Options{})
	cfg := writeFile(t, "pipeline.yaml", fmt.Sprintf(`
input:
  mimecast_threats:
    api_url: %s
    client_id: fake-client-id
    client_secret: fake-client-secret
    feeds: [phishy, url_protect]
output:
  drop: {}
`, tn.URL))
	r := runCheckFor(t, checkRequest{configPath: cfg, lookupEnv: envOf(nil)})
	assert.Equal(t, exitNotAllOK, r.code)
	rows := rowsByKind(t, r.report)[kindThreats]
	assert.Equal(t, resultFailed, rows["config"].Result)
	assert.Contains(t, rows["config"].Error, "unknown feed phishy")
	assert.Len(t, rows, 1, "a config that cannot start is not tested further")
}

// check refuses what the component's constructor refuses, with the message lint and run give.
func TestCheckRefusesWhatStartUpRefusesWithTheSameMessage(t *testing.T) {
	t.Parallel()
	tn := startCheckTenant(t, mimecastfake.Options{})
	cases := []struct{ fields, want string }{
		{"filters:\n      - expression: 'event.foo =='\n", "filters[0].expression: ERROR: <input>:1:13: Syntax error"},
		{"overlap: -5m\n", "overlap: -5m0s is negative: use 0s for no overlap"},
		{"feeds: []\n", "feeds: empty: name at least one of"},
	}
	for _, tc := range cases {
		cfg := writeFile(t, "pipeline.yaml", fmt.Sprintf("input:\n  mimecast_threats:\n    api_url: %s\n    client_id: fake-client-id\n    client_secret: fake-client-secret\n    %s\noutput:\n  drop: {}\n", tn.URL, tc.fields))
		r := runCheckFor(t, checkRequest{configPath: cfg, lookupEnv: envOf(nil)})
		assert.Equal(t, exitNotAllOK, r.code, tc.fields)
		rows := rowsByKind(t, r.report)[kindThreats]
		assert.Equal(t, resultFailed, rows["config"].Result, tc.fields)
		assert.Contains(t, rows["config"].Error, tc.want)
		assert.Len(t, rows, 1, "a config that cannot start is not tested further")
	}
}

// runCheckCLI runs the binary's CLI and returns the exit code check asked for: urfave/cli hands
// a non-zero code to cli.OsExiter, which the test swaps for a recorder.
func runCheckCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	exiter := cli.OsExiter
	code := -1
	cli.OsExiter = func(c int) { code = c }
	defer func() { cli.OsExiter = exiter }()
	got, out := runCLI(t, args...)
	if code == -1 {
		code = got
	}
	return code, out
}

func TestCheckCommandRunsFromTheCLI(t *testing.T) {
	tn := startCheckTenant(t, mimecastfake.Options{})
	t.Setenv("CHECK_CLI_URL", tn.URL)
	cfg := writeFile(t, "pipeline.yaml", `
pipeline:
  processors:
    - mimecast_enrich:
        api_url: ${CHECK_CLI_URL}
        client_id: fake-client-id
        client_secret: fake-client-secret
output:
  drop: {}
`)
	code, out := runCheckCLI(t, "check", cfg)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "all 3 checks of 1 Mimecast component(s) passed")

	code, out = runCheckCLI(t, "check", "--format", "json", cfg)
	assert.Equal(t, 0, code, out)
	var rep checkReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	assert.True(t, rep.OK)

	none := writeFile(t, "none.yaml", "input:\n  stdin: {}\noutput:\n  drop: {}\n")
	code, out = runCheckCLI(t, "check", none)
	assert.Equal(t, 2, code, out)

	code, out = runCheckCLI(t, "check", "--format", "xml", cfg)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, `--format "xml": use table or json`)
}

func TestReadmePermissionsListEveryEndpoint(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, section, found := strings.Cut(string(raw), "\n## Permissions\n")
	require.True(t, found, "README.md has a Permissions section")
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	for ep, p := range endpointPermissions {
		var row string
		for _, line := range strings.Split(section, "\n") {
			if strings.Contains(line, "`"+ep+"`") {
				row = line
				break
			}
		}
		require.NotEmpty(t, row, "a row for %s", ep)
		cells := strings.ReplaceAll(row, `\|`, "|")
		assert.Contains(t, cells, p.Role, ep)
		assert.Contains(t, cells, p.Product, ep)
		if p.Inferred {
			assert.Contains(t, cells, "inferred", ep)
		}
	}
}

func TestCheckNeedsTheCachesTheComponentNamesButNeverOpensThem(t *testing.T) {
	t.Parallel()
	tn := startCheckTenant(t, mimecastfake.Options{})
	cfg := writeFile(t, "pipeline.yaml", fmt.Sprintf(`
input:
  mimecast_threats:
    api_url: %[1]s
    client_id: fake-client-id
    client_secret: fake-client-secret
    feeds: [url_protect]
    checkpoint_cache: checkpoints
pipeline:
  processors:
    - mimecast_enrich:
        api_url: %[1]s
        client_id: fake-client-id
        client_secret: fake-client-secret
        cache: lookups
output:
  drop: {}
`, tn.URL))
	stateDir := t.TempDir()
	caches := writeFile(t, "caches.yaml", `
cache_resources:
  - label: checkpoints
    file:
      directory: `+stateDir+`
  - label: lookups
    memory: {}
`)

	r := runCheckFor(t, checkRequest{configPath: cfg, lookupEnv: envOf(nil)})
	assert.Equal(t, exitNotAllOK, r.code)
	rows := rowsByKind(t, r.report)
	assert.Contains(t, rows[kindThreats]["config"].Error, `checkpoint_cache: cache resource "checkpoints" is not defined`)
	assert.Contains(t, rows[kindEnrich]["config"].Error, `cache: cache resource "lookups" is not defined`)
	assert.Equal(t, resultOK, rows[kindThreats][mimecast.PathURLLogs].Result, "the calls are still checked")

	r = runCheckFor(t, checkRequest{configPath: cfg, resources: []string{caches}, lookupEnv: envOf(nil)})
	assert.Equal(t, exitAllOK, r.code, r.stdout)
	entries, err := os.ReadDir(stateDir)
	require.NoError(t, err)
	assert.Empty(t, entries, "no checkpoint is read or written")
}

func TestExamplePipelinesPassCheckAgainstTheSimulatedTenant(t *testing.T) {
	t.Parallel()
	tn := startCheckTenant(t, mimecastfake.Options{})
	configs, err := filepath.Glob("../../config/*.yaml")
	require.NoError(t, err)
	checked := 0
	for _, cfg := range configs {
		if strings.HasSuffix(cfg, "_benthos_test.yaml") {
			continue
		}
		r := runCheckFor(t, checkRequest{
			configPath: cfg, resources: []string{"../../resources/*.yaml"},
			lookupEnv: envOf(map[string]string{"MIMECAST_API_URL": tn.URL}),
		})
		if r.code == exitNoComponent {
			continue
		}
		checked++
		assert.Equal(t, exitAllOK, r.code, "%s: %s", cfg, r.stdout)
	}
	assert.Positive(t, checked, "the examples use Mimecast components")
}

// Flags may come before or after the config file, as users type them.
func TestCheckTakesFlagsAfterTheConfigFile(t *testing.T) {
	cases := []struct {
		args []string
		want checkArgs
		err  string
	}{
		{[]string{"c.yaml"}, checkArgs{path: "c.yaml", format: formatTable}, ""},
		{[]string{"c.yaml", "--format", "json"}, checkArgs{path: "c.yaml", format: formatJSON}, ""},
		{[]string{"c.yaml", "--format=json", "-r", "a.yaml", "--resources", "b.yaml"}, checkArgs{path: "c.yaml", format: formatJSON, resources: []string{"a.yaml", "b.yaml"}}, ""},
		{[]string{"--format", "json", "c.yaml"}, checkArgs{path: "c.yaml", format: formatJSON}, ""},
		{[]string{}, checkArgs{}, "check takes one pipeline config file"},
		{[]string{"a.yaml", "b.yaml"}, checkArgs{}, "check takes one pipeline config file"},
		{[]string{"c.yaml", "--colour"}, checkArgs{}, "flag provided but not defined: -colour"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got, err := parseTrailingCheckFlags(tc.args, formatTable, nil)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
