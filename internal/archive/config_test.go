package archive

import (
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

func TestArchiveBadConfigsFailAtStartUpNamingTheField(t *testing.T) {
	base := "client_id: a\nclient_secret: b\napi_url: http://127.0.0.1:1\n"
	cases := []struct {
		name, yaml, want string
	}{
		{"invalid domain regex", "include_domains: ['corp(']\n", `include_domains[0]: invalid regular expression "corp("`},
		{"invalid include mailbox regex", "include_mailboxes: [ok, '[a-']\n", `include_mailboxes[1]: invalid regular expression "[a-"`},
		{"invalid exclude mailbox regex", "exclude_mailboxes: ['*x']\n", "exclude_mailboxes[0]: invalid regular expression"},
		{"invalid subject regex", "exclude_subjects: ['a{2,1}']\n", "exclude_subjects[0]: invalid regular expression"},
		{"invalid attachment name regex", "exclude_attachment_names: ['x\\']\n", "exclude_attachment_names[0]: invalid regular expression"},
		{"end before start", "start_date: 2024-06-01\nend_date: 2024-01-01\n", "end_date: the crawl would end at 2024-01-02T00:00:00Z, not after start_date 2024-06-01T00:00:00Z"},
		{"end equal to start", "start_date: 2024-06-01\nend_date: 2024-06-01T00:00:00Z\n", "end_date: the crawl would end at 2024-06-01T00:00:00Z, not after start_date"},
		{"unparsable start", "start_date: yesterday\n", `start_date: "yesterday" is neither an RFC 3339 time`},
		{"unparsable end", "end_date: 2024-13-01\n", `end_date: "2024-13-01" is neither`},
		{"zero mailbox concurrency", "mailbox_concurrency: 0\n", "mailbox_concurrency: 0 is below 1"},
		{"zero request concurrency", "request_concurrency: 0\n", "request_concurrency: 0 is below 1"},
		{"zero deletion concurrency", "deletion_concurrency: 0\n", "deletion_concurrency: 0 is below 1"},
		{"negative attachment size", "max_attachment_size: -1\n", "max_attachment_size: -1 is negative"},
		{"negative bytes in flight", "max_bytes_in_flight: -1\n", "max_bytes_in_flight: -1 is negative"},
		{"zero poll interval", "poll_interval: 0s\n", "poll_interval: 0s is not positive"},
		{"missing cache", "checkpoint_cache: nope\n", `checkpoint_cache: cache resource "nope" is not defined`},
		{"checkpoint key with a slash", "checkpoint_key: a/b\n", "checkpoint_key"},
		{"empty checkpoint key", "checkpoint_key: ''\n", "checkpoint_key"},
		{"bad delta offset", "delta_offset: soon\n", "delta_offset"},
		{"page size over the API maximum", "page_size: 1000\n", "page_size: 1000 is out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conf, err := Spec().ParseYAML(base+tc.yaml, nil)
			require.NoError(t, err)
			_, err = archiveConfigFromParsed(conf, service.MockResources(), time.Now())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestArchiveLintRejectsBadValuesBeforeStartUp(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"zero mailbox concurrency", "mailbox_concurrency: 0", "mailbox_concurrency must be at least 1"},
		{"zero request concurrency", "request_concurrency: 0", "request_concurrency must be at least 1"},
		{"zero deletion concurrency", "deletion_concurrency: 0", "deletion_concurrency must be at least 1"},
		{"negative attachment size", "max_attachment_size: -5", "max_attachment_size must not be negative"},
		{"negative bytes in flight", "max_bytes_in_flight: -1", "max_bytes_in_flight must not be negative"},
		{"zero poll interval", "poll_interval: 0s", "poll_interval must be a positive duration"},
		{"unknown field", "include_domain: [x]", "include_domain"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := service.NewEnvironment().NewStreamBuilder()
			err := b.AddInputYAML("mimecast_archive:\n  client_id: a\n  client_secret: b\n  " + tc.yaml + "\n")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestArchiveDatesAcceptRFC3339DatesAndDurationsBack(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"2024-01-02", time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"2024-01-02T03:04:05", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"2024-01-02T03:04:05+02:00", time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC)},
		{"48h", now.Add(-48 * time.Hour)},
	} {
		got, _, err := parseArchiveDate(tc.in, now)
		require.NoError(t, err, tc.in)
		assert.True(t, tc.want.Equal(got), "%q: got %v", tc.in, got)
	}
	for _, bad := range []string{"-48h", "0s", "tomorrow", "2024-02-30"} {
		_, _, err := parseArchiveDate(bad, now)
		assert.Error(t, err, bad)
	}
}

func TestArchiveGoodConfigParsesEveryField(t *testing.T) {
	conf, err := Spec().ParseYAML(`
client_id: a
client_secret: b
api_url: http://127.0.0.1:1
include_domains: ['^corp']
include_local_domains: true
include_mailboxes: [alice]
exclude_mailboxes: [bob, bob]
start_date: 2024-01-01
end_date: 2024-02-01
poll_interval: 5m
ignore_delta_tokens: true
exclude_subjects: ['^ooo']
blank_subject_default: none
extract_attachments: true
exclude_attachment_names: ['\.ics$']
blank_attachment_name_default: file
max_attachment_size: 1000
mailbox_concurrency: 3
request_concurrency: 5
deletion_concurrency: 7
checkpoint_key: arch
delta_offset: -30s
max_body_size: 100
progress_interval: 0s
`, nil)
	require.NoError(t, err)
	c, err := archiveConfigFromParsed(conf, service.MockResources(), time.Now())
	require.NoError(t, err)
	t.Cleanup(c.conn.Close)
	assert.Len(t, c.includeDomains, 1)
	assert.True(t, c.includeLocal)
	assert.Len(t, c.excludeMailboxes, 1, "duplicates are dropped")
	assert.True(t, matchesAny(c.includeMailboxes, "ALICE@corp.example.com"), "matching is case-insensitive")
	assert.Equal(t, time.Date(2024, 2, 2, 0, 0, 0, 0, time.UTC), c.endDate, "a date alone is the whole of that day")
	assert.Equal(t, 5*time.Minute, c.pollInterval)
	assert.True(t, c.ignoreDelta)
	assert.Equal(t, "none", c.blankSubject)
	assert.True(t, c.extract)
	assert.Equal(t, "file", c.blankAttName)
	assert.Equal(t, int64(1000), c.maxAttSize)
	assert.Equal(t, []int{3, 5, 7}, []int{c.mailboxConc, c.requestConc, c.deletionConc})
	assert.Equal(t, "arch", c.checkpointKey)
	assert.Equal(t, -30*time.Second, c.deltaOffset)
	assert.Equal(t, 100, c.maxBodySize)
	assert.Zero(t, c.progressInterval)
}

func TestArchiveSpecExamplesAreValidConfigs(t *testing.T) {
	var examples []string
	service.GlobalEnvironment().WalkInputs(func(name string, v *service.ConfigView) {
		if name != "mimecast_archive" {
			return
		}
		td, err := v.TemplateData()
		require.NoError(t, err)
		for _, ex := range td.Examples {
			examples = append(examples, ex.Config)
		}
	})
	require.Len(t, examples, 2)
	for _, ex := range examples {
		b := service.NewStreamBuilder()
		b.SetEnvVarLookupFunc(func(string) (string, bool) { return "x", true })
		assert.NoError(t, b.SetYAML(ex), ex)
	}
}

func TestArchiveProgressBytesReadInBinaryUnits(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 40: "3.0 TiB"} {
		assert.Equal(t, want, formatBytes(n))
	}
}

// end_date is exclusive; a date alone means the whole of that day, a time means that instant.
func TestArchiveEndDateAsADateIncludesThatDay(t *testing.T) {
	for _, tc := range []struct {
		end  string
		want time.Time
	}{
		{"2024-12-31", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2024-12-31T00:00:00Z", time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"2024-12-31T18:30:00", time.Date(2024, 12, 31, 18, 30, 0, 0, time.UTC)},
	} {
		t.Run(tc.end, func(t *testing.T) {
			conf, err := Spec().ParseYAML(streamtest.ConnYAML("http://127.0.0.1:1")+"start_date: 2024-12-01\nend_date: "+tc.end+"\n", nil)
			require.NoError(t, err)
			c, err := archiveConfigFromParsed(conf, service.MockResources(), time.Now())
			require.NoError(t, err)
			t.Cleanup(c.conn.Close)
			assert.Equal(t, tc.want, c.endDate)
			assert.Equal(t, time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC), c.startDate, "start_date is the start of its day")
		})
	}
}
