package archive

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/email/emailtest"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

// attachmentsByParent groups attachment messages by their email's id.
func attachmentsByParent(msgs []*service.Message) map[string][]*service.Message {
	out := map[string][]*service.Message{}
	for _, m := range archByDocument(msgs, docAttachment, opIndex) {
		out[archMeta(m, metaParentID)] = append(out[archMeta(m, metaParentID)], m)
	}
	return out
}

func TestArchiveAttachmentsBecomeMessagesWithMatchingSHA256(t *testing.T) {
	_, url := streamtest.FakeTenant(t, smallArchive())
	msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow()+"extract_attachments: true")}, 20*time.Second)
	byParent := attachmentsByParent(msgs)
	require.NotEmpty(t, byParent)

	total := 0
	for _, e := range archEmails(msgs) {
		doc := decodeEmail(t, e)
		atts := byParent[doc.ID]
		require.Len(t, atts, len(doc.Attachments), "one message per listed attachment of %s", doc.ID)
		assert.Equal(t, doc.AttachmentCount, len(doc.Attachments))
		for i, a := range atts {
			entry := doc.Attachments[i]
			data, err := a.AsBytes()
			require.NoError(t, err)
			assert.Equal(t, emailtest.SHA256Hex(data), archMeta(a, metaAttSHA256), "the bytes hash to the advertised SHA-256")
			assert.Equal(t, entry.SHA256, archMeta(a, metaAttSHA256))
			assert.Equal(t, entry.Name, archMeta(a, metaAttName))
			assert.Equal(t, entry.ContentType, archMeta(a, metaAttContentType))
			assert.Equal(t, len(data), int(entry.Size))
			assert.Equal(t, archMeta(e, metaMailbox), archMeta(a, metaMailbox))
			assert.Equal(t, doc.ID, archMeta(a, metaMessageID), "an attachment carries its email's id")
			assert.Equal(t, opIndex, archMeta(a, metaOperation))
			assert.True(t, entry.Extracted)
			total++
		}
	}
	assert.Positive(t, total)
}

func TestArchiveAttachmentsAreOnlyListedWithoutExtraction(t *testing.T) {
	_, url := streamtest.FakeTenant(t, smallArchive())
	msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow())}, 20*time.Second)
	assert.Empty(t, archByDocument(msgs, docAttachment, opIndex))
	listed := 0
	for _, e := range archEmails(msgs) {
		for _, a := range decodeEmail(t, e).Attachments {
			assert.False(t, a.Extracted)
			assert.Len(t, a.SHA256, 64, "still hashed while streamed past")
			listed++
		}
	}
	assert.Positive(t, listed)
}

func TestArchiveEncodedSubjectsAndFileNamesAreDecoded(t *testing.T) {
	_, url := streamtest.FakeTenant(t, smallArchive())
	msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow()+"extract_attachments: true")}, 20*time.Second)
	var subjects, names []string
	for _, e := range archEmails(msgs) {
		doc := decodeEmail(t, e)
		subjects = append(subjects, doc.Subject)
		for _, a := range doc.Attachments {
			names = append(names, a.Name)
		}
	}
	assert.Contains(t, subjects, "Rechnung für März – Überprüfung nötig", "B-encoded UTF-8")
	assert.Contains(t, subjects, "Café déjà vu à Zürich", "Q-encoded ISO-8859-1")
	assert.True(t, slices.ContainsFunc(subjects, func(s string) bool { return strings.HasPrefix(s, "会议纪要 📎 ") }), "Q-encoded UTF-8 with CJK and emoji")
	assert.Contains(t, subjects, "(no subject)", "blank_subject_default")
	assert.Contains(t, names, "Résumé – 2024.pdf", "RFC 2231 file name")
	assert.Contains(t, names, "会议纪要.docx")
	var metaNames []string
	for _, a := range archByDocument(msgs, docAttachment, opIndex) {
		metaNames = append(metaNames, archMeta(a, metaAttName))
	}
	assert.Contains(t, metaNames, "会议纪要.docx", "the decoded name is the attachment's metadata")
}

func TestArchiveExcludedAttachmentNamesAreListedNotEmitted(t *testing.T) {
	metrics, m := archMetricsFor(t)
	_, url := streamtest.FakeTenant(t, smallArchive())
	msgs := archRunToEnd(t, archiveStream{
		input:   archiveInputYAML(url, archUntilNow()+"extract_attachments: true\nexclude_attachment_names: ['\\.ZIP$']"),
		metrics: metrics,
	}, 20*time.Second)
	for _, a := range archByDocument(msgs, docAttachment, opIndex) {
		assert.NotContains(t, archMeta(a, metaAttName), ".zip")
	}
	excluded := 0
	for _, e := range archEmails(msgs) {
		for _, a := range decodeEmail(t, e).Attachments {
			if strings.HasSuffix(a.Name, ".zip") {
				assert.Equal(t, skipExcluded, a.Skipped)
				assert.False(t, a.Extracted)
				excluded++
			}
		}
	}
	assert.Positive(t, excluded)
	assert.Equal(t, int64(excluded), m.get("mimecast_archive_attachments_skipped|"+skipExcluded))
}

func TestArchiveTooLargeAttachmentsAreSkippedCountedAndStillHashed(t *testing.T) {
	metrics, m := archMetricsFor(t)
	opts := smallArchive()
	opts.Sizes.LargeAttachmentPct = 40
	opts.Sizes.UsersPerDomain = 1
	_, url := streamtest.FakeTenant(t, opts)
	msgs := archRunToEnd(t, archiveStream{
		input:   archiveInputYAML(url, archUntilNow()+"extract_attachments: true\nmax_attachment_size: 1048576"),
		metrics: metrics,
	}, 30*time.Second)
	skipped := 0
	for _, e := range archEmails(msgs) {
		for _, a := range decodeEmail(t, e).Attachments {
			if a.Size > 1<<20 {
				assert.Equal(t, int64(mimecastfake.LargeAttachmentBytes), a.Size)
				assert.Equal(t, skipTooLarge, a.Skipped)
				assert.Len(t, a.SHA256, 64)
				skipped++
			} else {
				assert.True(t, a.Extracted)
			}
		}
	}
	require.Positive(t, skipped, "the tenant has large attachments")
	for _, a := range archByDocument(msgs, docAttachment, opIndex) {
		b, err := a.AsBytes()
		require.NoError(t, err)
		assert.LessOrEqual(t, len(b), 1<<20)
	}
	assert.Equal(t, int64(skipped), m.get("mimecast_archive_attachments_skipped|"+skipTooLarge))
}

const namelessAttachment = "From: a@example.com\r\nTo: alice@corp0.example.com\r\nSubject: scan\r\n" +
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
	"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--b--\r\n"

const brokenMIME = "From: a@example.com\r\nSubject: broken one\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain\r\n\r\nthe closing boundary never comes\r\n"

func TestArchiveNamelessAttachmentsGetTheDefaultName(t *testing.T) {
	fake := mimecastfake.New(smallArchive())
	id := fake.MessageIDs("alice@" + ordinaryDomain)[2]
	_, url := archTenant(t, smallArchive(), partSubstitutes(map[string]string{id: namelessAttachment}))
	msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow()+"extract_attachments: true\nblank_attachment_name_default: unnamed.bin")}, 20*time.Second)
	atts := attachmentsByParent(msgs)[id]
	require.Len(t, atts, 1)
	assert.Equal(t, "unnamed.bin", archMeta(atts[0], metaAttName))
	b, _ := atts[0].AsBytes()
	assert.Equal(t, []byte{0, 1, 2, 3}, b)
}

func TestArchiveBrokenMIMEIsFlaggedAndTheCrawlGoesOn(t *testing.T) {
	metrics, m := archMetricsFor(t)
	fake := mimecastfake.New(smallArchive())
	id := fake.MessageIDs("bob@" + ordinaryDomain)[4]
	_, url := archTenant(t, smallArchive(), partSubstitutes(map[string]string{id: brokenMIME}))
	msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow()+"extract_attachments: true"), metrics: metrics}, 20*time.Second)

	got := archEmails(msgs)
	require.Len(t, got, 24, "every email is emitted, the broken one too")
	var flagged []*service.Message
	for _, e := range got {
		if e.GetError() != nil {
			flagged = append(flagged, e)
		}
	}
	require.Len(t, flagged, 1)
	assert.Equal(t, id, archMeta(flagged[0], metaMessageID))
	assert.ErrorContains(t, flagged[0].GetError(), "malformed MIME")
	doc := decodeEmail(t, flagged[0])
	assert.Equal(t, "broken one", doc.Subject, "what was parsed is kept")
	assert.Equal(t, "bob@"+ordinaryDomain, doc.Mailbox)
	assert.Empty(t, attachmentsByParent(msgs)[id])
	assert.Equal(t, int64(1), m.get("mimecast_archive_content_errors"))
}

func TestArchiveWithoutContentViewEmitsMetadataOnlyAndWarnsOnce(t *testing.T) {
	metrics, m := archMetricsFor(t)
	opts := smallArchive()
	var products []string
	for _, p := range mimecastfake.AllProducts {
		if p != mimecastfake.ProductContentView {
			products = append(products, p)
		}
	}
	opts.Clients = []mimecastfake.ClientApp{{ID: mimecastfake.DefaultClientID, Secret: mimecastfake.DefaultClientSecret, Products: products}}
	fake, url := streamtest.FakeTenant(t, opts)
	msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow()+"extract_attachments: true"), metrics: metrics}, 20*time.Second)

	got := archEmails(msgs)
	require.Len(t, got, 24)
	for _, e := range got {
		require.NoError(t, e.GetError(), "a missing permission is not an error of the email")
		doc := decodeEmail(t, e)
		assert.False(t, doc.ContentAvailable)
		assert.NotEmpty(t, doc.Subject)
		assert.NotNil(t, doc.From)
		assert.NotEmpty(t, doc.To)
		assert.False(t, doc.Received.IsZero())
		assert.Empty(t, doc.Text)
	}
	assert.Empty(t, archByDocument(msgs, docAttachment, opIndex))
	assert.Equal(t, int64(24), m.get("mimecast_archive_content_forbidden"))
	refused := fake.Stats().EndpointStatuses["/api/archive/get-message-part"][http.StatusForbidden]
	assert.LessOrEqual(t, refused, 2*4, "after the first 403 the crawl stops asking: only fetches already in flight are refused")
}

func TestArchiveConcurrencyStaysWithinMailboxTimesRequestConcurrency(t *testing.T) {
	opts := smallArchive()
	opts.Sizes.UsersPerDomain = 4
	opts.Faults = mimecastfake.Faults{SlowResponses: 1000, SlowBy: 20 * time.Millisecond}
	fake, url := streamtest.FakeTenant(t, opts)
	msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow()+"mailbox_concurrency: 2\nrequest_concurrency: 3\npage_size: 4")}, 30*time.Second)
	require.Len(t, archEmails(msgs), 32)
	peak := fake.Stats().MaxConcurrent
	assert.LessOrEqual(t, peak, 2*3)
	assert.Greater(t, peak, 3, "mailboxes and content fetches really run in parallel")
}

func TestArchiveExcludedSubjectsAndTheBlankSubjectDefault(t *testing.T) {
	metrics, m := archMetricsFor(t)
	_, url := streamtest.FakeTenant(t, smallArchive())
	msgs := archRunToEnd(t, archiveStream{
		input:   archiveInputYAML(url, archUntilNow()+"exclude_subjects: ['^meeting notes$', '^NONE$']\nblank_subject_default: none"),
		metrics: metrics,
	}, 20*time.Second)
	_, url2 := streamtest.FakeTenant(t, smallArchive())
	all := archEmails(archRunToEnd(t, archiveStream{input: archiveInputYAML(url2, archUntilNow())}, 20*time.Second))

	excluded := 0
	for _, e := range all {
		if s := decodeEmail(t, e).Subject; s == "Meeting notes" || s == "(no subject)" {
			excluded++
		}
	}
	require.Positive(t, excluded)
	got := archEmails(msgs)
	assert.Len(t, got, len(all)-excluded)
	for _, e := range got {
		s := decodeEmail(t, e).Subject
		assert.NotEqual(t, "Meeting notes", s)
		assert.NotEqual(t, "none", s, "blank subjects became 'none' and matched the exclusion")
	}
	assert.Equal(t, int64(excluded), m.get("mimecast_archive_subjects_excluded"))
}

func TestArchiveLongBodiesAreCutAtMaxBodySize(t *testing.T) {
	_, url := streamtest.FakeTenant(t, smallArchive())
	msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow()+"max_body_size: 16")}, 20*time.Second)
	for _, e := range archEmails(msgs) {
		doc := decodeEmail(t, e)
		assert.LessOrEqual(t, len(doc.Text), 16)
		assert.True(t, doc.Truncated)
	}
}

func TestArchivePagesRepeatedByTheAPIAreEmittedOnce(t *testing.T) {
	metrics, m := archMetricsFor(t)
	opts := smallArchive()
	opts.Faults = mimecastfake.Faults{DuplicateAcrossPages: 1000}
	fake, url := streamtest.FakeTenant(t, opts)
	msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow()+"page_size: 3"), metrics: metrics}, 20*time.Second)
	ids := archIDs(archEmails(msgs))
	assert.ElementsMatch(t, archAllIDs(fake, ordinaryDomain), ids, "each message once")
	assert.Positive(t, m.get("mimecast_archive_duplicates"))
}

func TestArchiveReadsTheDocumentedFlatSearchShapeToo(t *testing.T) {
	opts := smallArchive()
	opts.ArchiveSearchFlat = true
	fake, url := streamtest.FakeTenant(t, opts)
	msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow())}, 20*time.Second)
	assert.ElementsMatch(t, archAllIDs(fake, ordinaryDomain), archIDs(archEmails(msgs)))
}

// searchRecordInjector appends a record that is not a JSON object to the first search page of
// every mailbox, as a tenant sending a broken record would.
func searchRecordInjector(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/archive/search" {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		out := rec.Body.Bytes()
		if rec.Code == http.StatusOK && !bytes.Contains(body, []byte("pageToken")) {
			out = bytes.Replace(out, []byte(`"items":[`), []byte(`"items":[42,`), 1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(out)
	})
}

func TestArchiveUndecodableSearchRecordIsEmittedErrorFlagged(t *testing.T) {
	fake, url := archTenant(t, smallArchive(), searchRecordInjector)
	msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow())}, 20*time.Second)
	var flagged, good []*service.Message
	for _, m := range archEmails(msgs) {
		if m.GetError() != nil {
			flagged = append(flagged, m)
		} else {
			good = append(good, m)
		}
	}
	assert.ElementsMatch(t, archAllIDs(fake, ordinaryDomain), archIDs(good), "the crawl goes on around the broken record")
	require.Len(t, flagged, 3, "one broken record per mailbox, each emitted")
	for _, m := range flagged {
		b, _ := m.AsBytes()
		assert.Equal(t, "42", string(b), "the record as it came")
		assert.NotEmpty(t, archMeta(m, metaMailbox))
	}
}

// failingParts answers get-message-part with HTTP 503 for the listed archive ids, as many times
// as each one's count says (-1: always).
func failingParts(counts map[string]int) func(http.Handler) http.Handler {
	var mu sync.Mutex
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/archive/get-message-part" {
				body, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(body))
				mu.Lock()
				fail := false
				for id, n := range counts {
					if n != 0 && bytes.Contains(body, []byte(`"`+id+`"`)) {
						fail, counts[id] = true, n-1
					}
				}
				mu.Unlock()
				if fail {
					http.Error(w, `{"fail":[{"code":"service_unavailable","message":"try later"}]}`, http.StatusServiceUnavailable)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestArchiveContentOutageIsRetriedInTheNextCrawlAndAPoisonMessageIsFlagged(t *testing.T) {
	fake := mimecastfake.New(smallArchive())
	flaky := fake.MessageIDs("alice@" + ordinaryDomain)[1]
	poison := fake.MessageIDs("carol@" + ordinaryDomain)[6]
	_, url := archTenant(t, smallArchive(), failingParts(map[string]int{flaky: 1, poison: -1}))
	msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow()+"max_retries: 0")}, 30*time.Second)

	got := archEmails(msgs)
	assert.ElementsMatch(t, archAllIDs(fake, ordinaryDomain), archIDs(got), "every message once: a stopped mailbox resumes where it stopped")
	for _, m := range got {
		switch id := archMeta(m, metaMessageID); id {
		case poison:
			assert.ErrorContains(t, m.GetError(), "HTTP 503", "after three crawls the message is given up on, flagged")
			assert.False(t, decodeEmail(t, m).ContentAvailable)
		default:
			require.NoError(t, m.GetError(), id)
			assert.True(t, decodeEmail(t, m).ContentAvailable, "the outage of %s passed: its content came in the next crawl", id)
		}
	}
}
