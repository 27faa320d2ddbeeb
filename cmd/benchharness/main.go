// Command benchharness runs the project's benchmarks against the simulated tenant on loopback
// and writes docs/benchmarks.md:
//
//	go run ./cmd/benchharness                 # full size (1,000,000 events), as `task bench`
//	go run ./cmd/benchharness --size small    # the CI-sized run
//
// Each scenario runs in a child process of this binary and its fake in another, so that CPU and
// peak RSS are the measured code's own; --in-process runs everything in one process instead.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mimecast-connect/mimecast-connect/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchharness:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	// The harness starts itself in these two internal modes.
	if len(args) == 2 {
		switch args[0] {
		case bench.ServeFakeArg:
			return bench.ServeFake(ctx, args[1], os.Stdout)
		case bench.RunScenarioArg:
			return bench.RunChild(ctx, args[1], os.Stdout)
		}
	}
	fs := flag.NewFlagSet("benchharness", flag.ContinueOnError)
	size := fs.String("size", bench.SizeFull, "small (CI) or full (the sizes docs/benchmarks.md reports)")
	out := fs.String("out", "docs/benchmarks.md", "where to write the report; - for stdout")
	only := fs.String("only", "", "comma-separated scenarios to run (default: all)")
	inProcess := fs.Bool("in-process", false, "run the fake and every scenario in this process (CPU and RSS then include the fake)")
	profileDir := fs.String("cpuprofile-dir", "", "keep the CPU profile of each scenario's process in DIR/<scenario>.pprof (default: a temporary directory)")
	profiles := fs.Bool("profile", true, "profile each scenario's process and put the top of the profiles in the report (not with --in-process)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := bench.Options{Size: *size, Log: os.Stderr, ProfileDir: *profileDir}
	if *only != "" {
		opts.Only = strings.Split(*only, ",")
	}
	if !*inProcess {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding the harness binary: %w", err)
		}
		opts.Exe = exe
		if *profiles && opts.ProfileDir == "" {
			dir, err := os.MkdirTemp("", "benchharness-profiles-")
			if err != nil {
				return fmt.Errorf("creating a directory for the profiles: %w", err)
			}
			defer os.RemoveAll(dir)
			opts.ProfileDir = dir
		} else if opts.ProfileDir != "" {
			if err := os.MkdirAll(opts.ProfileDir, 0o755); err != nil {
				return fmt.Errorf("creating the profile directory: %w", err)
			}
		}
	}
	rep, err := bench.Run(ctx, opts)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := rep.WriteMarkdown(&buf, command(args)); err != nil {
		return fmt.Errorf("rendering the report: %w", err)
	}
	if *out == "-" {
		_, err = os.Stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", *out)
	return nil
}

// command is the command line that reproduces the run.
func command(args []string) string {
	return strings.TrimSpace("go run ./cmd/benchharness " + strings.Join(args, " "))
}
