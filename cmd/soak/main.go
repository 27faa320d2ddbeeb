// Command soak runs the demo pipeline (config/threats_demo.yaml) against a simulated tenant for
// a long while with faults injected at random, samples the binary's resident memory and
// goroutines, and checks that they stay flat and that no event is lost. Run it from the
// repository root: go run ./cmd/soak (or task soak).
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
	var opts reliability.SoakOptions
	flag.DurationVar(&opts.Duration, "duration", 10*time.Minute, "how long faults are injected and samples taken")
	flag.DurationVar(&opts.WarmUp, "warm-up", 0, "samples before this are not judged (default: a sixth of -duration)")
	flag.DurationVar(&opts.SampleEvery, "sample-every", 5*time.Second, "time between two samples")
	flag.DurationVar(&opts.FaultEvery, "fault-every", 10*time.Second, "mean time between two injected faults")
	flag.Float64Var(&opts.Tolerance, "tolerance", 0.2, "allowed growth of memory and goroutines, last third over first")
	flag.Int64Var(&opts.Seed, "seed", 1, "seeds the tenant and the faults")
	flag.IntVar(&opts.Backlog, "backlog", 1000, "events per feed before the run")
	flag.DurationVar(&opts.SIEMBatchWindow, "siem-batch-window", 20*time.Second, "how often the tenant publishes live SIEM batch files (the API's is 15m, which lists no new file in a run of minutes)")
	flag.StringVar(&opts.Config, "config", "", "pipeline to soak (default: config/threats_demo.yaml)")
	binary := flag.String("binary", "", "mimecast-connect binary (default: build ./cmd/mimecast-connect)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, *binary); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, opts reliability.SoakOptions, binary string) error {
	dir, err := os.MkdirTemp("", "soak-")
	if err != nil {
		return fmt.Errorf("creating a work directory: %w", err)
	}
	defer os.RemoveAll(dir)
	if binary == "" {
		fmt.Fprintln(os.Stderr, "building ./cmd/mimecast-connect ...")
		if binary, err = reliability.BuildBinary(ctx, dir); err != nil {
			return err
		}
	}
	opts.Binary, opts.Dir, opts.Log = binary, dir, os.Stderr
	rep, err := reliability.RunSoak(ctx, opts)
	if rep != nil {
		fmt.Println(rep)
	}
	if err != nil {
		if log, rerr := os.ReadFile(dir + "/soak.log"); rerr == nil && len(log) > 0 {
			fmt.Fprintf(os.Stderr, "pipeline log:\n%s\n", tailBytes(log, 4000))
		}
		return err
	}
	if err := rep.Check(); err != nil {
		return fmt.Errorf("FAIL:\n%w", err)
	}
	fmt.Println("PASS")
	return nil
}

func tailBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
