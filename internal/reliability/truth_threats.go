package reliability

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// maxTruthPages bounds every listing loop: a tenant that keeps handing out next-page tokens is
// a bug to report, not a reason to hang.
const maxTruthPages = 100_000

// truthClient is a plain API client for listing what the tenant holds.
func truthClient(apiURL string) (*mimecast.Client, error) {
	return mimecast.New(mimecast.Config{
		APIURL:       apiURL,
		ClientID:     mimecastfake.DefaultClientID,
		ClientSecret: mimecastfake.DefaultClientSecret,
		PageSize:     100,
		MaxRetries:   10,
		MaxRetryWait: 5 * time.Second,
	})
}

// threatsTruth lists every record the tenant holds in [from, to) for the feeds of a
// mimecast_threats pipeline, keyed as threatKey keys the pipeline's output. Counts above 1
// mean the tenant holds records that are the same event to the input (same id or content).
func threatsTruth(ctx context.Context, apiURL string, feeds, siemTypes []string, from, to time.Time) (map[string]int, error) {
	c, err := truthClient(apiURL)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	truth := map[string]int{}
	add := func(feed string, r mimecast.Record) { truth[threatKey(feed, mimecast.EventKey(r))]++ }
	for _, feed := range feeds {
		var err error
		switch feed {
		case "url_protect":
			err = listPages(func(tok string) (string, error) {
				p, err := c.URLClickLogsPage(ctx, mimecast.URLLogsRequest{From: from, To: to, OldestFirst: true}, tok)
				for _, r := range p.Items {
					add(feed, r)
				}
				return p.Next, err
			})
		case "attachment_protect":
			err = listPages(func(tok string) (string, error) {
				p, err := c.AttachmentLogsPage(ctx, mimecast.AttachmentLogsRequest{From: from, To: to, OldestFirst: true}, tok)
				for _, r := range p.Items {
					add(feed, r)
				}
				return p.Next, err
			})
		case "impersonation_protect":
			err = listPages(func(tok string) (string, error) {
				p, err := c.ImpersonationLogsPage(ctx, mimecast.ImpersonationLogsRequest{From: from, To: to, OldestFirst: true}, tok)
				for _, r := range p.Items {
					add(feed, r)
				}
				return p.Next, err
			})
		case "threat_events":
			err = listPages(func(tok string) (string, error) {
				p, err := c.ThreatEventsPage(ctx, mimecast.ThreatEventsRequest{Start: from, End: to}, tok)
				for _, r := range p.Items {
					add(feed, r)
				}
				return p.Next, err
			})
		case "held_messages":
			err = listPages(func(tok string) (string, error) {
				p, err := c.HeldMessagesPage(ctx, mimecast.HoldListRequest{Start: from, End: to}, tok)
				for _, r := range p.Items {
					add(feed, r)
				}
				return p.Next, err
			})
			if err == nil {
				err = listPages(func(tok string) (string, error) {
					p, err := c.HeldReleaseLogsPage(ctx, mimecast.HeldReleaseLogsRequest{Start: from, End: to}, tok)
					for _, r := range p.Items {
						add(feed, r)
					}
					return p.Next, err
				})
			}
		case "siem":
			for _, t := range siemTypes {
				if err = siemTruth(ctx, c, t, from, to, func(r mimecast.Record) { add(feed, r) }); err != nil {
					break
				}
			}
		default:
			err = fmt.Errorf("no ground truth for feed %q", feed)
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", feed, err)
		}
	}
	return truth, nil
}

// listPages calls page with each next-page token until there is none.
func listPages(page func(token string) (next string, err error)) error {
	tok := ""
	for range maxTruthPages {
		next, err := page(tok)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		tok = next
	}
	return fmt.Errorf("more than %d pages", maxTruthPages)
}

// siemTruth reads every batch file of one SIEM type listed from `from`, keeping the events
// before `to`.
func siemTruth(ctx context.Context, c *mimecast.Client, typ string, from, to time.Time, add func(mimecast.Record)) error {
	tok := ""
	for range maxTruthPages {
		req := mimecast.SIEMBatchRequest{Type: typ}
		if tok == "" {
			req.Start = from
		}
		list, err := c.SIEMBatchFilesPage(ctx, req, tok)
		if err != nil {
			return err
		}
		for _, f := range list.Files {
			if err := readSIEMFile(ctx, c, f.URL, from, to, add); err != nil {
				return err
			}
		}
		if list.IsCaughtUp || len(list.Files) == 0 {
			return nil
		}
		tok = list.NextPage
	}
	return fmt.Errorf("more than %d listing pages", maxTruthPages)
}

func readSIEMFile(ctx context.Context, c *mimecast.Client, url string, from, to time.Time, add func(mimecast.Record)) error {
	r, err := c.OpenBatchFile(ctx, url)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading a siem batch file: %w", err)
		}
		if ev.DecodeErr() != nil {
			return fmt.Errorf("a siem batch file holds an undecodable line: %w", ev.DecodeErr())
		}
		if t := ev.EventTime(); !t.Before(from) && t.Before(to) {
			add(ev)
		}
	}
}

// threatKey identifies one event in the output of a mimecast_threats pipeline.
func threatKey(feed, id string) string { return feed + "/" + id }
