package archive

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

func TestArchiveCrawlsEveryMailboxOfTheDomainsThenEnds(t *testing.T) {
	fake, url := streamtest.FakeTenant(t, smallArchive())
	msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow())}, 20*time.Second)

	got := archEmails(msgs)
	assert.ElementsMatch(t, archAllIDs(fake, ordinaryDomain), archIDs(got), "every message of the ordinary domain, once; the local domain is out by default")
	for _, m := range got {
		require.NoError(t, m.GetError())
		doc := decodeEmail(t, m)
		assert.True(t, doc.ContentAvailable)
		assert.Equal(t, archMeta(m, metaMailbox), doc.Mailbox)
		assert.Equal(t, doc.ID, archMeta(m, metaMessageID))
		assert.Equal(t, doc.Received.Format(time.RFC3339), archMeta(m, metaReceived))
		assert.NotEmpty(t, doc.MessageID)
		assert.Equal(t, doc.MessageID, archMeta(m, metaRFC822ID))
		assert.NotEmpty(t, doc.Text)
		assert.NotEmpty(t, doc.Headers["Received"])
		require.NotNil(t, doc.From)
		assert.NotEmpty(t, doc.To)
	}
}

func TestArchiveScopeFollowsDomainAndMailboxFilters(t *testing.T) {
	all := func(domain string) []string {
		return []string{"alice@" + domain, "bob@" + domain, "carol@" + domain}
	}
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"default: every ordinary domain, no local one", "", all(ordinaryDomain)},
		{"local domains included", "include_local_domains: true", append(all(ordinaryDomain), all(localDomain)...)},
		{"a local domain named but local domains off", "include_domains: ['^corp1']", nil},
		{"a local domain named and local domains on", "include_domains: ['^corp1']\ninclude_local_domains: true", all(localDomain)},
		{"domain regex unanchored and case-insensitive", "include_domains: ['EXAMPLE']\ninclude_local_domains: true", all(ordinaryDomain)},
		{"include mailboxes", "include_mailboxes: ['^alice@']\ninclude_local_domains: true", []string{"alice@" + ordinaryDomain, "alice@" + localDomain}},
		{"include mailboxes is case-insensitive", "include_mailboxes: ['^ALICE@CORP0']", []string{"alice@" + ordinaryDomain}},
		{"exclude mailboxes", "exclude_mailboxes: ['^(alice|bob)@']", []string{"carol@" + ordinaryDomain}},
		{"exclude applies after include", "include_mailboxes: ['^(alice|bob)@']\nexclude_mailboxes: ['^bob']", []string{"alice@" + ordinaryDomain}},
		{"a dot is any character unless escaped", "include_mailboxes: ['^a.ice@corp0\\.example\\.com$']", []string{"alice@" + ordinaryDomain}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, url := streamtest.FakeTenant(t, smallArchive())
			msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow()+tc.yaml)}, 20*time.Second)
			got := archMailboxes(msgs)
			assert.ElementsMatch(t, tc.want, keysOf(got))
			for mb, n := range got {
				assert.Equal(t, 8, n, "every message of %s", mb)
			}
		})
	}
}

func keysOf(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestArchiveStartAndEndDatesBoundTheReceivedTimes(t *testing.T) {
	opts := smallArchive()
	opts.Sizes.MessagesPerMailbox = 20
	_, url := streamtest.FakeTenant(t, opts)
	everything := archEmails(archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow())}, 20*time.Second))
	require.Len(t, everything, 60)

	// Bounds in the middle of the spread of received times.
	var times []time.Time
	for _, m := range everything {
		times = append(times, decodeEmail(t, m).Received)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	start, end := times[15], times[45]
	var want []string
	for _, m := range everything {
		if r := decodeEmail(t, m).Received; !r.Before(start) && r.Before(end) {
			want = append(want, archMeta(m, metaMessageID))
		}
	}
	_, url2 := streamtest.FakeTenant(t, opts)
	bounded := archEmails(archRunToEnd(t, archiveStream{input: archiveInputYAML(url2,
		"start_date: "+start.Format(time.RFC3339)+"\nend_date: "+end.Format(time.RFC3339))}, 20*time.Second))
	assert.ElementsMatch(t, want, archIDs(bounded), "exactly the messages received in [start_date, end_date)")
}

func TestArchiveSecondRunEmitsOnlyNewMessages(t *testing.T) {
	fake, url := streamtest.FakeTenant(t, smallArchive())
	res := archFileCache(t.TempDir())
	in := func() string { return archiveInputYAML(url, archUntilNow()+"checkpoint_cache: state") }

	first := archEmails(archRunToEnd(t, archiveStream{input: in(), resources: res}, 20*time.Second))
	require.Len(t, first, 24)

	alice := "alice@" + ordinaryDomain
	require.NoError(t, fake.AddMessages(alice, 3))
	require.NoError(t, fake.AddMessages("bob@"+ordinaryDomain, 1))
	second := archEmails(archRunToEnd(t, archiveStream{input: in(), resources: res}, 20*time.Second))

	newIDs := append(fake.MessageIDs(alice)[:3], fake.MessageIDs("bob@" + ordinaryDomain)[:1]...)
	assert.ElementsMatch(t, newIDs, archIDs(second), "only the mail that arrived since the first run")

	third := archRunToEnd(t, archiveStream{input: in(), resources: res}, 20*time.Second)
	assert.Empty(t, third, "nothing new, nothing emitted")
}

func TestArchiveDeltaCrawlPicksUpNewMailWhileRunning(t *testing.T) {
	fake, url := streamtest.FakeTenant(t, smallArchive())
	c := streamtest.NewCollector()
	startArchive(t, archiveStream{input: archiveInputYAML(url, "poll_interval: 100ms")}, c)
	c.WaitFor(t, 10*time.Second, func(m []*service.Message) bool { return len(m) >= 24 })

	carol := "carol@" + ordinaryDomain
	require.NoError(t, fake.AddMessages(carol, 2))
	got := c.WaitFor(t, 10*time.Second, func(m []*service.Message) bool { return len(m) >= 26 })
	ids := archIDs(archEmails(got))
	assert.Len(t, ids, 26)
	assert.ElementsMatch(t, archAllIDs(fake, ordinaryDomain), ids, "every message once, the two new ones included")
}

// crawlStoppedMidMailbox runs a crawl with its checkpoint in a file cache until the tenant fails
// in the middle of bob's mailbox, and stops it there. It returns the ids the run delivered, and
// what a second run needs; the gate is open again.
func crawlStoppedMidMailbox(t *testing.T) (fake *mimecastfake.Server, in, res string, firstRun []string) {
	t.Helper()
	opts := smallArchive()
	opts.Sizes.MessagesPerMailbox = 12
	// Search pages of 2: alice takes 6 pages, then bob gets 2 before the tenant fails.
	gate := &searchGate{allow: 8, rejected: make(chan struct{}, 16)}
	fake, url := archTenant(t, opts, func(h http.Handler) http.Handler { gate.handler = h; return gate })
	res = archFileCache(t.TempDir())
	in = archiveInputYAML(url, archUntilNow()+"checkpoint_cache: state\npage_size: 2\nmailbox_concurrency: 1\nmax_retries: 0")

	c := streamtest.NewCollector()
	stop := startArchive(t, archiveStream{input: in, resources: res}, c)
	c.WaitFor(t, 10*time.Second, func(m []*service.Message) bool { return len(m) >= 16 })
	// bob's third page and carol's first are refused; the next try is a second away, so no
	// request of this run can reach the tenant after it stopped.
	gate.waitRejected(t, 2)
	stop()
	firstRun = archIDs(archEmails(c.Snapshot()))
	require.Len(t, firstRun, 16, "alice's 12 and bob's first 4")
	gate.open()
	return fake, in, res, firstRun
}

func TestArchiveRestartMidCrawlResumesWithoutLossOrRepeats(t *testing.T) {
	fake, in, res, firstRun := crawlStoppedMidMailbox(t)
	fake.ResetStats()
	secondRun := archIDs(archEmails(archRunToEnd(t, archiveStream{input: in, resources: res}, 20*time.Second)))
	assert.Len(t, secondRun, 20, "bob's last 8 and carol's 12")
	assert.Empty(t, intersect(firstRun, secondRun), "nothing acknowledged in the first run is emitted again")
	assert.ElementsMatch(t, archAllIDs(fake, ordinaryDomain), append(firstRun, secondRun...), "nothing is lost")
	assert.Equal(t, 4+6, fake.Stats().Calls["/api/archive/search"], "bob resumes at his third page (4 pages), carol is new (6 pages), alice is done")
}

// A run that resumes mid-window and finds its page token refused reads the window again from
// its first page: the messages the first run delivered from it are known from the ledger and
// not emitted again.
func TestArchiveRestartOnARefusedPageTokenRepeatsNothing(t *testing.T) {
	fake, in, res, firstRun := crawlStoppedMidMailbox(t)
	fake.SetFaults(mimecastfake.Faults{RefusePageTokens: 1}) // bob's saved token
	secondRun := archIDs(archEmails(archRunToEnd(t, archiveStream{input: in, resources: res}, 20*time.Second)))
	assert.Zero(t, fake.Faults().RefusePageTokens, "the saved token was refused")
	assert.Empty(t, intersect(firstRun, secondRun), "nothing acknowledged in the first run is emitted again")
	assert.ElementsMatch(t, archAllIDs(fake, ordinaryDomain), append(firstRun, secondRun...), "nothing is lost")
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func TestArchiveMailboxLeavingTheScopeGetsOneDeleteEvent(t *testing.T) {
	fake, url := streamtest.FakeTenant(t, smallArchive())
	dir := t.TempDir()
	res := archFileCache(dir)
	in := func(extra string) string {
		return archiveInputYAML(url, archUntilNow()+"checkpoint_cache: state\ninclude_local_domains: true\n"+extra)
	}
	first := archRunToEnd(t, archiveStream{input: in(""), resources: res}, 20*time.Second)
	require.Len(t, archEmails(first), 48)

	gone, excluded := "alice@"+ordinaryDomain, "bob@"+localDomain
	require.True(t, fake.RemoveMailbox(gone))
	second := archRunToEnd(t, archiveStream{input: in("exclude_mailboxes: ['^bob@corp1']"), resources: res}, 20*time.Second)
	deletes := archByDocument(second, docMailbox, opDelete)
	assert.ElementsMatch(t, []string{gone, excluded}, keysOf(archMailboxes(deletes)), "one delete per mailbox that left: gone from the directory, or excluded")
	assert.Len(t, deletes, 2)
	assert.Empty(t, archEmails(second))

	store := newArchiveStore(nil, "", "mimecast_archive")
	for _, mb := range []string{gone, excluded} {
		_, err := os.Stat(dir + "/" + store.mailboxKey(mb))
		assert.True(t, os.IsNotExist(err), "the checkpoint of %s is forgotten", mb)
	}
	_, err := os.Stat(dir + "/" + store.mailboxKey("carol@"+ordinaryDomain))
	assert.NoError(t, err, "the other checkpoints stay")

	third := archRunToEnd(t, archiveStream{input: in("exclude_mailboxes: ['^bob@corp1']"), resources: res}, 20*time.Second)
	assert.Empty(t, third, "a mailbox is deleted once")

	// Back in scope: crawled from the start again, as a new mailbox.
	fourth := archRunToEnd(t, archiveStream{input: in(""), resources: res}, 20*time.Second)
	assert.Equal(t, map[string]int{excluded: 8}, archMailboxes(fourth))
}

func TestArchiveIgnoreDeltaTokensReemitsAndDeletesWhatDisappeared(t *testing.T) {
	defer func(n int) { ledgerSegmentSize = n }(ledgerSegmentSize)
	ledgerSegmentSize = 5 // several full segments per mailbox, and a tail

	fake, url := streamtest.FakeTenant(t, smallArchive())
	res := archFileCache(t.TempDir())
	in := func(extra string) string {
		return archiveInputYAML(url, archUntilNow()+"checkpoint_cache: state\n"+extra)
	}
	first := archEmails(archRunToEnd(t, archiveStream{input: in(""), resources: res}, 20*time.Second))
	require.Len(t, first, 24)

	ids := fake.MessageIDs("alice@" + ordinaryDomain)
	removed := []string{ids[0], ids[5]}
	for _, id := range removed {
		require.True(t, fake.RemoveMessage(id))
	}
	recrawl := archRunToEnd(t, archiveStream{input: in("ignore_delta_tokens: true"), resources: res}, 20*time.Second)
	assert.ElementsMatch(t, archAllIDs(fake, ordinaryDomain), archIDs(archEmails(recrawl)), "everything still archived is emitted again")
	deletes := archByDocument(recrawl, docEmail, opDelete)
	assert.ElementsMatch(t, removed, archIDs(deletes), "exactly the messages no longer found are deleted")
	for _, d := range deletes {
		assert.Equal(t, "alice@"+ordinaryDomain, archMeta(d, metaMailbox))
		assert.NotEmpty(t, archMeta(d, metaReceived))
	}

	after := archRunToEnd(t, archiveStream{input: in(""), resources: res}, 20*time.Second)
	assert.Empty(t, after, "the re-crawl moved the checkpoints: a delta run finds nothing")

	// A second re-crawl compares with the ledger the first one wrote.
	require.True(t, fake.RemoveMessage(ids[3]))
	again := archRunToEnd(t, archiveStream{input: in("ignore_delta_tokens: true"), resources: res}, 20*time.Second)
	assert.Equal(t, []string{ids[3]}, archIDs(archByDocument(again, docEmail, opDelete)))
}

func TestArchiveCheckpointKeysUseTheConfiguredPrefix(t *testing.T) {
	_, url := streamtest.FakeTenant(t, smallArchive())
	dir := t.TempDir()
	archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow()+"checkpoint_cache: state\ncheckpoint_key: legal_hold"), resources: archFileCache(dir)}, 20*time.Second)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 4, "three mailboxes and the mailbox set")
	for _, e := range entries {
		assert.True(t, strings.HasPrefix(e.Name(), "legal_hold_"), e.Name())
		assert.NotContains(t, e.Name(), "@", "addresses are hashed, not written into file names")
	}
}

func TestArchiveDeltaOffsetCatchesMailIndexedLate(t *testing.T) {
	var clock atomic.Pointer[time.Time]
	now := time.Now().UTC()
	clock.Store(&now)
	opts := smallArchive()
	opts.Now = func() time.Time { return *clock.Load() }
	// The backlog ends an hour ago, so the late messages are still the mailbox's newest (the
	// fake keeps received times in index order).
	opts.Anchor = now.Add(-time.Hour)
	fake, url := streamtest.FakeTenant(t, opts)
	res := archFileCache(t.TempDir())
	run := func(offset string) []*service.Message {
		return archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow()+"checkpoint_cache: state\ndelta_offset: "+offset), resources: res}, 20*time.Second)
	}
	require.Len(t, run("10m"), 24)

	// Two messages show up now, stamped five minutes ago: behind every checkpoint.
	late := time.Now().UTC().Add(-5 * time.Minute)
	clock.Store(&late)
	require.NoError(t, fake.AddMessages("alice@"+ordinaryDomain, 2))

	assert.Empty(t, run("1m"), "an overlap of one minute does not reach back to them")
	got := run("10m")
	assert.ElementsMatch(t, fake.MessageIDs("alice@" + ordinaryDomain)[:2], archIDs(archEmails(got)), "an overlap of ten minutes does, and only they are new")
}

func TestArchiveRejectedBatchIsReadAgainWithoutAutoReplay(t *testing.T) {
	fake, url := streamtest.FakeTenant(t, smallArchive())
	victim := fake.MessageIDs("bob@" + ordinaryDomain)[3]
	var rejected atomic.Bool
	c := streamtest.NewCollector()
	c.Reject = func(m *service.Message) bool {
		return archMeta(m, metaMessageID) == victim && rejected.CompareAndSwap(false, true)
	}
	s := archiveStream{input: archiveInputYAML(url, archUntilNow()+"auto_replay_nacks: false")}.build(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	require.NoError(t, s.Run(ctx), "the input still ends at end_date")

	require.True(t, rejected.Load())
	ids := archIDs(archEmails(c.Snapshot()))
	assert.Subset(t, ids, archAllIDs(fake, ordinaryDomain), "the rejected batch's messages come again in a later crawl")
	assert.Contains(t, ids, victim)
}

func TestArchiveProgressMetricsCountMailboxesEmailsAttachmentsAndBytes(t *testing.T) {
	metrics, m := archMetricsFor(t)
	_, url := streamtest.FakeTenant(t, smallArchive())
	msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow()+"extract_attachments: true"), metrics: metrics}, 20*time.Second)
	var bytes int64
	for _, msg := range msgs {
		b, err := msg.AsBytes()
		require.NoError(t, err)
		bytes += int64(len(b))
	}
	assert.Equal(t, int64(3), m.get("mimecast_archive_mailboxes_total"))
	assert.Equal(t, int64(3), m.get("mimecast_archive_mailboxes_done"))
	assert.Equal(t, int64(24), m.get("mimecast_archive_emails"))
	assert.Equal(t, int64(len(archByDocument(msgs, docAttachment, opIndex))), m.get("mimecast_archive_attachments"))
	assert.Equal(t, bytes, m.get("mimecast_archive_bytes"), "bytes are what was emitted")
}

// archStoreOver reads what a stream saved in a file cache directory.
func archStoreOver(t *testing.T, dir, prefix string) *archiveStore {
	t.Helper()
	b := service.NewResourceBuilder()
	require.NoError(t, b.AddCacheYAML("label: state\nfile:\n  directory: "+dir+"\n"))
	res, stop, err := b.Build()
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop(context.Background()) })
	return newArchiveStore(res, "state", prefix)
}

func TestArchiveInterruptedRecrawlIsRedoneAndLeavesNoStaleLedger(t *testing.T) {
	defer func(n int) { ledgerSegmentSize = n }(ledgerSegmentSize)
	ledgerSegmentSize = 2

	opts := smallArchive()
	opts.Sizes.UsersPerDomain = 1
	opts.Sizes.MessagesPerMailbox = 12
	gate := &searchGate{allow: 1 << 30, rejected: make(chan struct{}, 16)}
	fake, url := archTenant(t, opts, func(h http.Handler) http.Handler { gate.handler = h; return gate })
	dir := t.TempDir()
	res := archFileCache(dir)
	alice := "alice@" + ordinaryDomain
	in := func(extra string) string {
		return archiveInputYAML(url, archUntilNow()+"checkpoint_cache: state\npage_size: 2\nmax_retries: 0\n"+extra)
	}
	require.Len(t, archRunToEnd(t, archiveStream{input: in(""), resources: res}, 20*time.Second), 12)

	// A re-crawl stops after four of its six pages.
	gate.mu.Lock()
	gate.allow = gate.calls + 4
	gate.mu.Unlock()
	c := streamtest.NewCollector()
	stop := startArchive(t, archiveStream{input: in("ignore_delta_tokens: true"), resources: res}, c)
	gate.waitRejected(t, 1)
	stop()
	store := archStoreOver(t, dir, "mimecast_archive")
	st, ok, err := store.loadMailbox(t.Context(), alice)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, st.Recrawl, "the re-crawl is saved unfinished")
	partial := st.Ledger

	// Redone from a start_date that leaves out the oldest half: a shorter ledger than the
	// unfinished one, and deletes for everything it no longer finds.
	gate.open()
	ids := fake.MessageIDs(alice)
	var newest []time.Time
	for _, m := range archEmails(archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow())}, 20*time.Second)) {
		newest = append(newest, decodeEmail(t, m).Received)
	}
	slices.SortFunc(newest, func(a, b time.Time) int { return b.Compare(a) })
	start := newest[3] // the four newest stay in range
	redo := archRunToEnd(t, archiveStream{input: in("ignore_delta_tokens: true\nstart_date: " + start.Format(time.RFC3339Nano)), resources: res}, 20*time.Second)
	assert.ElementsMatch(t, ids[:4], archIDs(archEmails(redo)))
	assert.ElementsMatch(t, ids[4:], archIDs(archByDocument(redo, docEmail, opDelete)), "compared with the ledger from before the unfinished re-crawl")

	st, ok, err = store.loadMailbox(t.Context(), alice)
	require.NoError(t, err)
	require.True(t, ok)
	assert.False(t, st.Recrawl)
	assert.Nil(t, st.OldLedger)
	require.Equal(t, partial.Gen, st.Ledger.Gen)
	require.Less(t, st.Ledger.Segments, partial.Segments, "the test needs a shorter ledger than the unfinished one")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var segments []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), store.mailboxKey(alice)+"_l") {
			segments = append(segments, e.Name())
		}
	}
	var want []string
	for k := range st.Ledger.Segments {
		want = append(want, store.segmentKey(alice, st.Ledger.Gen, k))
	}
	assert.ElementsMatch(t, want, segments, "only the current ledger's segments are left")
}

func TestArchiveWithoutArchiveSearchPermissionNothingIsEmittedAndTheCrawlRetries(t *testing.T) {
	metrics, m := archMetricsFor(t)
	opts := smallArchive()
	opts.Clients = []mimecastfake.ClientApp{{ID: mimecastfake.DefaultClientID, Secret: mimecastfake.DefaultClientSecret,
		Products: []string{mimecastfake.ProductDirectory, mimecastfake.ProductContentView}}}
	_, url := streamtest.FakeTenant(t, opts)
	c := streamtest.NewCollector()
	stop := startArchive(t, archiveStream{input: archiveInputYAML(url, ""), metrics: metrics}, c)
	// Every mailbox's search fails and is counted, in the first crawl and again in the next.
	m.waitAtLeast(t, "mimecast_archive_fetch_errors", 6, 10*time.Second)
	stop()
	assert.Empty(t, c.Snapshot(), "nothing is emitted, and no checkpoint moves")
}
