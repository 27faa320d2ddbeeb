package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/urfave/cli/v2"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// demoCommand runs a pipeline against a simulated tenant served inside this process, so a new user
// sees data flow before they have Mimecast credentials.
func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "Run a pipeline (default ./config/threats_demo.yaml) against an embedded simulated Mimecast tenant",
		Description: "Starts the simulated tenant of `fake-api` on a free loopback port, exports\n" +
			"MIMECAST_API_URL, MIMECAST_CLIENT_ID and MIMECAST_CLIENT_SECRET for it, and runs the\n" +
			"pipeline config as `run` would. The tenant makes new events while it runs, and a line on\n" +
			"stderr every --summary-interval counts what each feed emitted. Stop it with Ctrl-C.",
		ArgsUsage: "[config.yaml]",
		Flags: []cli.Flag{
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "seed of the simulated tenant"},
			&cli.IntFlag{Name: "live-events-per-hour", Value: 720, Usage: "new events per feed per hour while the demo runs (at most 1800; 0: the backlog only)"},
			&cli.DurationFlag{Name: "summary-interval", Value: 10 * time.Second, Usage: "how often to print the per-feed summary (0: never)"},
		},
		Action: func(c *cli.Context) error {
			path := "./config/threats_demo.yaml"
			if c.Args().Len() > 0 {
				path = c.Args().First()
			}
			if _, err := os.Stat(path); err != nil {
				return fmt.Errorf("reading demo pipeline: %w (run the demo from the repository root, or name a config file)", err)
			}
			opts := mimecastfake.Options{Seed: c.Int64("seed"), Sizes: mimecastfake.Sizes{
				LiveEventsPerHour: c.Int("live-events-per-hour"),
				// Live SIEM files a run of a few minutes sees.
				SIEMBatchWindow: time.Minute,
			}}
			fake, err := serveFake("127.0.0.1:0", opts)
			if err != nil {
				return err
			}
			go fake.reportFailure()
			defer fake.stop()

			// The pipeline's HTTP server on a free loopback port, where the summary reads its
			// metrics: a demo must not collide with a collector already on 4195.
			httpAddr, err := freeLoopbackAddr()
			if err != nil {
				return err
			}
			env := map[string]string{
				"MIMECAST_API_URL":       fake.url,
				"MIMECAST_CLIENT_ID":     mimecastfake.DefaultClientID,
				"MIMECAST_CLIENT_SECRET": mimecastfake.DefaultClientSecret,
			}
			fmt.Fprintf(os.Stderr, "simulated Mimecast tenant at %s; running %s (metrics on http://%s/metrics)\n", env["MIMECAST_API_URL"], path, httpAddr)
			ctx, cancel := context.WithCancel(c.Context)
			defer cancel()
			if every := c.Duration("summary-interval"); every > 0 {
				go summarizeDemo(ctx, "http://"+httpAddr+"/metrics", every, os.Stderr)
			}
			code, err := service.RunCLIToCode(c.Context, append(cliOptions(),
				service.CLIOptSetArgs("mimecast-connect", "run", "--set", "http.enabled=true", "--set", "http.address="+httpAddr, path),
				service.CLIOptSetEnvVarLookup(func(_ context.Context, k string) (string, bool) {
					if v, ok := env[k]; ok {
						return v, true
					}
					return os.LookupEnv(k)
				}),
			)...)
			if err != nil {
				return err
			}
			if code != 0 {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port for the demo's HTTP server: %w", err)
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// summarizeDemo prints, every interval until ctx ends, one line counting what each feed (and
// the archive) emitted, read from the pipeline's /metrics.
func summarizeDemo(ctx context.Context, metricsURL string, every time.Duration, w io.Writer) {
	t := time.NewTicker(every)
	defer t.Stop()
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		counts, err := scrapeDemoCounts(ctx, client, metricsURL)
		if err != nil {
			continue // the pipeline is starting or stopping
		}
		fmt.Fprintln(w, demoSummaryLine(counts))
	}
}

// demoCounts are the events emitted per feed (threats) and the emails crawled (archive).
type demoCounts struct {
	feeds  map[string]int64
	emails int64
}

func scrapeDemoCounts(ctx context.Context, client *http.Client, url string) (demoCounts, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return demoCounts{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return demoCounts{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return demoCounts{}, fmt.Errorf("metrics answered %s", resp.Status)
	}
	return parseDemoCounts(resp.Body)
}

// parseDemoCounts reads mimecast_threats_emitted{feed=...} and mimecast_archive_emails from a
// Prometheus text exposition.
func parseDemoCounts(r io.Reader) (demoCounts, error) {
	counts := demoCounts{feeds: map[string]int64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) < 2 || strings.HasPrefix(line, "#") {
			continue
		}
		name, labels, _ := strings.Cut(fields[0], "{")
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			continue
		}
		switch name {
		case "mimecast_archive_emails":
			counts.emails += int64(v)
		case "mimecast_threats_emitted":
			if _, after, ok := strings.Cut(labels, `feed="`); ok {
				feed, _, _ := strings.Cut(after, `"`)
				counts.feeds[feed] += int64(v)
			}
		}
	}
	return counts, sc.Err()
}

func demoSummaryLine(c demoCounts) string {
	var parts []string
	var total int64
	for _, feed := range slices.Sorted(maps.Keys(c.feeds)) {
		parts = append(parts, fmt.Sprintf("%s %d", feed, c.feeds[feed]))
		total += c.feeds[feed]
	}
	if c.emails > 0 {
		parts = append(parts, fmt.Sprintf("archive emails %d", c.emails))
		total += c.emails
	}
	if len(parts) == 0 {
		return "demo: nothing emitted yet"
	}
	return fmt.Sprintf("demo: %d emitted so far (%s); the tenant keeps making events, Ctrl-C stops; next: README \"Using it against a real tenant\"", total, strings.Join(parts, ", "))
}
