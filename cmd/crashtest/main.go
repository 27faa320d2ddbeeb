// Command crashtest kills a mimecast-connect pipeline with SIGKILL at random moments while it
// reads a large backlog from a simulated tenant, restarts it each time, and checks that every
// event reached the output at least once and that each kill cost no more replayed events than
// its bound. Run it from the repository root: go run ./cmd/crashtest (or task crash-test).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/reliability"
)

func main() {
	var (
		scenario  = flag.String("scenario", "all", "threats, archive or all")
		seed      = flag.Int64("seed", 1, "seeds the tenant and the kill moments")
		kills     = flag.Int("kills", 10, "SIGKILLs before the last run drains")
		events    = flag.Int("events", 100_000, "threats: backlog of events, split over 10 sources")
		pageSize  = flag.Int("page-size", 25, "threats: page_size of the pipeline")
		inFlight  = flag.Int("max-pages-in-flight", 4, "threats: max_pages_in_flight of the pipeline")
		mailboxes = flag.Int("mailboxes", 50, "archive: mailboxes to crawl")
		messages  = flag.Int("messages-per-mailbox", 200, "archive: messages in each mailbox")
		binary    = flag.String("binary", "", "mimecast-connect binary to test (default: build ./cmd/mimecast-connect)")
		dir       = flag.String("dir", "", "work directory kept for inspection (default: a temporary one, removed)")
		timeout   = flag.Duration("timeout", 20*time.Minute, "bound on each scenario")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *scenario, *binary, *dir, reliability.CrashOptions{Seed: *seed, Kills: *kills, Timeout: *timeout, Log: os.Stderr},
		reliability.ThreatsCrash{Events: *events, PageSize: *pageSize, MaxPagesInFlight: *inFlight},
		reliability.ArchiveCrash{Mailboxes: *mailboxes, MessagesPerMailbox: *messages}); err != nil {
		fmt.Fprintln(os.Stderr, "crashtest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, scenario, binary, dir string, opts reliability.CrashOptions, tc reliability.ThreatsCrash, ac reliability.ArchiveCrash) error {
	keep := dir != ""
	if !keep {
		tmp, err := os.MkdirTemp("", "crashtest-")
		if err != nil {
			return fmt.Errorf("creating a work directory: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	if binary == "" {
		fmt.Fprintln(os.Stderr, "building ./cmd/mimecast-connect ...")
		b, err := reliability.BuildBinary(ctx, dir)
		if err != nil {
			return err
		}
		binary = b
	}
	opts.Binary = binary
	var failed bool
	for _, sc := range []struct {
		name string
		run  func(context.Context, reliability.CrashOptions) (*reliability.CrashReport, error)
	}{
		{"threats", func(ctx context.Context, o reliability.CrashOptions) (*reliability.CrashReport, error) {
			return reliability.RunThreatsCrash(ctx, o, tc)
		}},
		{"archive", func(ctx context.Context, o reliability.CrashOptions) (*reliability.CrashReport, error) {
			return reliability.RunArchiveCrash(ctx, o, ac)
		}},
	} {
		if scenario != "all" && scenario != sc.name {
			continue
		}
		o := opts
		o.Dir = dir + "/" + sc.name
		if err := os.MkdirAll(o.Dir, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", o.Dir, err)
		}
		rep, err := sc.run(ctx, o)
		if rep != nil {
			fmt.Println(rep)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		if err := rep.Check(); err != nil {
			fmt.Printf("FAIL %s:\n%v\n\n", sc.name, err)
			failed = true
			continue
		}
		fmt.Printf("PASS %s\n\n", sc.name)
	}
	if keep {
		fmt.Fprintln(os.Stderr, "work directory kept:", dir)
	}
	if failed {
		return fmt.Errorf("the crash test failed")
	}
	return nil
}
