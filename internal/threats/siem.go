package threats

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// siemChunk is how many SIEM events make one batch, and siemChunkBytes how many bytes of them:
// files hold hundreds to thousands of events of up to DefaultMaxLineBytes each, and a whole
// file in one batch would hold it all in memory.
const (
	siemChunk      = 500
	siemChunkBytes = 4 << 20
)

// siemSource reads the SIEM batch files of one event type. Its checkpoint is the listing's
// @nextPage: a listing page is committed once every event of every file on it was delivered.
// Once a cursor exists the listing is never queried by date again: the date filter is
// day-granular, so a query by date lists files already read.
//
// The walk is the listing pages read since the input started: a cursor only moves forward, so
// its tokens and the files each page listed are remembered (up to maxWalkPages), and a listing
// that leads back to a page of the walk, or lists again under a new token only files already
// listed, is an error instead of a loop. Both are owned by the source's runner goroutine.
type siemSource struct {
	in        *threatsInput
	eventType string

	walk   pageWalk
	listed map[string]string // file name -> the page token that listed it, in this walk
	streak failStreak

	failing     string // the batch file that failed the last polls, and how many
	failedPolls int
}

func (s *siemSource) name() string { return "siem_" + strings.ReplaceAll(s.eventType, " ", "_") }
func (s *siemSource) feed() string { return feedSIEM }

func (s *siemSource) start(now time.Time, lookback time.Duration) feedState {
	return feedState{Cursor: clampLookback(s.in.log, s.name(), now, lookback, siemRetention)}
}

func (s *siemSource) read(ctx context.Context, st feedState) iter.Seq2[chunk, error] {
	return func(yield func(chunk, error) bool) {
		emit := func(recs []threatRecord, at feedState) error {
			if !yield(chunk{records: recs, state: &at, commit: true}, nil) {
				return errStopped
			}
			return nil
		}
		nst, caughtUp, err := s.readPage(ctx, st, emit)
		var stall *siemStallError
		switch {
		case errors.Is(err, errStopped):
		case errors.As(err, &stall):
			// The page's events were delivered and committed with the files they came from:
			// the page is listed again on the next poll, after a back-off, and its files are
			// not read again.
			s.in.metrics.paginationCycles.Incr(1, feedSIEM)
			n := s.streak.failed(s.in.log, s.in.log.Errorf, s.name(), s.in.now(), fmt.Sprintf("%v; the walk ends here and the listing is read again from that page", err))
			yield(chunk{}, &handledError{err: err, streak: n})
		case err != nil:
			yield(chunk{}, err)
		default:
			if caughtUp {
				s.streak.ended(s.in.log, s.name(), "the listing was read to its end")
			}
			yield(chunk{state: &nst, commit: true, caughtUp: caughtUp}, nil)
		}
	}
}

// errStopped ends a read whose caller stopped taking its chunks.
var errStopped = errors.New("the reader stopped")

// siemEmitFunc hands a chunk of records to the reader of a source, with the state that holds
// once they are delivered; errStopped when it stopped.
type siemEmitFunc func(records []threatRecord, at feedState) error

// readPage reads the listing page after st and every file on it, emitting their events, and
// returns the state after the page. Each chunk is emitted with the state inside the page after
// it (the files delivered whole, and the lines delivered of the file being read), so a page
// read again after a restart, a failure or a stalled listing skips what was delivered.
func (s *siemSource) readPage(ctx context.Context, st feedState, emit siemEmitFunc) (feedState, bool, error) {
	client, cctx := s.in.cfg.conn.Client, s.in.cfg.conn.Context(ctx)
	req := mimecast.SIEMBatchRequest{Type: s.eventType}
	if st.Token == "" {
		req.Start = st.Cursor
	}
	for attempt := 1; ; attempt++ {
		list, err := client.SIEMBatchFilesPage(cctx, req, st.Token)
		if err != nil {
			return st, false, fmt.Errorf("listing siem %s batch files: %w", s.eventType, err)
		}
		if list.DuplicateURLs > 0 {
			// A file listed twice would deliver its events twice; it is read once.
			s.in.metrics.duplicates.Incr(int64(list.DuplicateURLs), feedSIEM)
			s.in.log.Debugf("%s: %d duplicated batch URLs on one listing page, each fetched once", s.name(), list.DuplicateURLs)
		}
		again, err := s.readFiles(ctx, list.Files, emit, attempt < siemPageAttempts, &st)
		var bad *siemFileError
		if errors.As(err, &bad) {
			if attempt < siemPageAttempts {
				again, err = bad, nil
			} else if err = s.unreadable(bad, emit, &st); err == nil {
				// The file is reported and the page read on, from a fresh listing.
				attempt = 0
				continue
			}
		}
		if err != nil {
			return st, false, err
		}
		if again != nil {
			// The page is listed again with fresh URLs and read on from where it stopped.
			s.in.metrics.fetchErrors.Incr(1, feedSIEM)
			logf := s.in.log.Debugf
			if attempt == 1 {
				logf = s.in.log.Warnf
			}
			logf("%s: %v; listing the page again for fresh URLs (attempt %d of %d)", s.name(), again, attempt+1, siemPageAttempts)
			continue
		}
		s.failing, s.failedPolls = "", 0
		nst := st
		nst.Done, nst.File, nst.Line = nil, "", 0
		caughtUp := list.IsCaughtUp || len(list.Files) == 0
		if err := s.progress(st.Token, list, caughtUp); err != nil {
			return nst, false, err
		}
		if list.NextPage != "" {
			nst.Token = list.NextPage
		}
		return nst, caughtUp, nil
	}
}

// progress checks that a listing page moves the walk on: a page that is not caught up must
// lead to a page the walk has not read and list a file no other page of it listed, and no page
// may lead back to an earlier one. A caught-up page may give its own token again (nothing new
// yet), as long as it lists no files.
func (s *siemSource) progress(token string, list mimecast.SIEMBatchList, caughtUp bool) error {
	next := list.NextPage
	switch {
	case next == "" && !caughtUp:
		// Not caught up, yet nowhere to go on: the same page again is the only way forward.
		return &siemStallError{token: token, why: "it has no next page"}
	case next == "" || (next == token && caughtUp && len(list.Files) == 0):
		return nil
	case next == token:
		return &siemStallError{token: token, why: "its next page is itself"}
	}
	if back, ok := s.walk.follow(token, next); !ok {
		return &siemStallError{token: token, why: fmt.Sprintf("its next page leads back to page %d of this walk", back+1)}
	}
	if s.listed == nil || len(s.listed) > maxWalkPages {
		s.listed = map[string]string{}
	}
	fresh := false
	for _, f := range list.Files {
		name := fileName(f.URL)
		if by, ok := s.listed[name]; !ok || by == token {
			fresh = true
			s.listed[name] = token
		}
	}
	if !fresh && len(list.Files) > 0 && !caughtUp {
		return &siemStallError{token: token, why: "it lists only files an earlier page of this walk listed"}
	}
	return nil
}

// siemStallError is a listing page, not caught up, that does not move the walk on.
type siemStallError struct {
	token, why string
}

func (e *siemStallError) Error() string {
	return fmt.Sprintf("the siem listing makes no progress at page token %s: %s", shortToken(e.token), e.why)
}

// unreadable deals with a file that could not be read on the last attempt of a page. A failure
// that may heal (a 5xx, the network) fails the poll, which backs off, until the same file has
// failed siemFileGiveUp polls in a row; then, or at once for a failure that cannot heal, the
// file is reported (an ERROR, mimecast_threats_fetch_errors and an error-flagged message naming
// it, for a dead letter output) and skipped, so the event type moves on.
func (s *siemSource) unreadable(bad *siemFileError, emit siemEmitFunc, st *feedState) error {
	if bad.name != s.failing {
		s.failing, s.failedPolls = bad.name, 0
	}
	s.failedPolls++
	if mimecast.IsRetryable(bad.err) && s.failedPolls < siemFileGiveUp {
		return bad
	}
	s.in.metrics.fetchErrors.Incr(1, feedSIEM)
	s.in.log.Errorf("%s: giving up on batch file %s after %d %s: %v; it is emitted as an error-flagged message and the listing is read on",
		s.name(), bad.name, s.failedPolls, plural(s.failedPolls, "poll", "polls"), bad.err)
	s.failing, s.failedPolls = "", 0
	rec := threatRecord{
		raw:       fmt.Appendf(nil, `{"siem_batch_file":%q,"event_type":%q}`, bad.name, s.eventType),
		id:        mimecast.ContentHash([]byte("unreadable:" + bad.name)),
		decodeErr: fmt.Errorf("siem batch file %s could not be read, its events are missing: %w", bad.name, bad.err),
	}
	at := *st
	at.Done = append(slices.Clone(st.Done), bad.name)
	if at.File == bad.name {
		at.File, at.Line = "", 0
	}
	if err := emit([]threatRecord{rec}, at); err != nil {
		return err
	}
	*st = at
	return nil
}

// siemFileGiveUp is how many polls in a row one batch file may fail in a way that can heal
// before it is skipped.
const siemFileGiveUp = 5

// siemFileError is a batch file that could not be downloaded or read.
type siemFileError struct {
	name string
	err  error
}

func (e *siemFileError) Error() string {
	return fmt.Sprintf("reading siem batch file %s: %v", e.name, e.err)
}
func (e *siemFileError) Unwrap() error { return e.err }

// siemPageAttempts is how many times a listing page is read when one of its files cannot be
// read whole: its URL expired, or the file ends early. A transfer cut short (a reset, a proxy
// timeout) looks the same as a damaged file; only another download tells them apart, and a
// fresh listing is what gives a regenerated file or a URL that has not expired. After the last
// attempt an expired URL is an error of the poll, and a file that still ends early has its end
// emitted as an error-flagged record.
const siemPageAttempts = 3

// readFiles reads the files of one listing page that st does not list as delivered, moving st
// on as their events are emitted. again is set, and reading stops, when a file's URL expired or
// (with retry) a file ended early.
func (s *siemSource) readFiles(ctx context.Context, files []mimecast.SIEMBatchFile, emit siemEmitFunc, retry bool, st *feedState) (again, err error) {
	var todo []mimecast.SIEMBatchFile
	for _, f := range files {
		if !slices.Contains(st.Done, fileName(f.URL)) {
			todo = append(todo, f)
		}
	}
	var ahead *filePrefetch
	defer func() { ahead.discard() }()
	for i, f := range todo {
		cur := ahead
		ahead = nil
		if i+1 < len(todo) {
			ahead = s.prefetchFile(ctx, todo[i+1])
		}
		cut, err := s.readFile(ctx, f.URL, cur, emit, retry, st)
		if errors.Is(err, mimecast.ErrBatchURLExpired) && retry {
			return err, nil
		}
		if err != nil && ctx.Err() == nil && !errors.Is(err, errStopped) {
			return nil, &siemFileError{name: fileName(f.URL), err: err}
		}
		if err != nil {
			return nil, err
		}
		if cut != nil {
			return cut, nil
		}
	}
	return nil, nil
}

// readFile emits the events of one batch file in chunks, after the lines st says were delivered
// of it, and moves st on with each chunk and past the file at its end. With retryCut, a file that
// ends early stops the read and is returned as cut (the events read since the last chunk are not
// emitted: the next read has them); without, the end is emitted as an error-flagged record.
func (s *siemSource) readFile(ctx context.Context, fileURL string, pre *filePrefetch, emit siemEmitFunc, retryCut bool, st *feedState) (cut, err error) {
	name := fileName(fileURL)
	var skip int64
	if st.File == name {
		skip = st.Line
	}
	r, ok := pre.open(ctx)
	if !ok {
		if r, err = s.in.cfg.conn.Client.OpenBatchFile(s.in.cfg.conn.Context(ctx), fileURL); err != nil {
			return nil, err
		}
	}
	defer r.Close()
	batch := make([]threatRecord, 0, siemChunk)
	var batchBytes int
	newest := st.Cursor
	flush := func(end bool) error {
		at := *st
		if newest.After(at.Cursor) {
			at.Cursor = newest
		}
		if end {
			at.Done = append(slices.Clone(st.Done), name)
			at.File, at.Line = "", 0
		} else {
			at.File, at.Line = name, r.Line()
		}
		if len(batch) > 0 || end {
			if err := emit(batch, at); err != nil {
				return err
			}
		}
		*st = at
		batch, batchBytes = make([]threatRecord, 0, siemChunk), 0
		return nil
	}
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if r.Line() <= skip {
			continue // delivered before
		}
		rec := record(ev)
		if errors.Is(rec.decodeErr, mimecast.ErrBatchFileCorrupt) {
			if retryCut {
				return fmt.Errorf("batch file %s: %w", name, rec.decodeErr), nil
			}
			// The text of a cut is often empty: name the file and line, or the ends of two
			// damaged files would look like one record repeated.
			rec.id = mimecast.ContentHash(fmt.Appendf(nil, "%s:%d:%s", name, r.Line(), rec.raw))
		}
		if rec.decodeErr == nil {
			rec.threatType = siemThreatType(ev)
			rec.status = siemStatus(ev)
			rec.source = feedSIEM
			if rec.eventTime.After(newest) {
				newest = rec.eventTime
			}
		}
		batch = append(batch, rec)
		batchBytes += len(rec.raw)
		if len(batch) == siemChunk || batchBytes >= siemChunkBytes {
			if err := flush(false); err != nil {
				return nil, err
			}
		}
	}
	return nil, flush(true)
}

// fileName is the path of a pre-signed URL: what names the file, without its signature.
func fileName(fileURL string) string {
	u, err := url.Parse(fileURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Path
}
