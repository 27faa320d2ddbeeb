package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// fakeAPICommand serves the simulated tenant on its own, for pipelines, benchmarks and manual
// exploration with curl.
func fakeAPICommand() *cli.Command {
	return &cli.Command{
		Name:  "fake-api",
		Usage: "Serve a simulated Mimecast API 2.0 tenant (seeded, deterministic, with injectable faults)",
		Description: "Serves POST /oauth/token, the /api/* lists, /siem/v1/*, /threats/v1/events and the\n" +
			"archive from a generated tenant until interrupted. Point a pipeline's base URL at it and\n" +
			"use the printed credentials. Faults can also be changed while it runs:\n" +
			"  curl -X PUT --data '{\"RateLimitBurst\":3}' http://ADDR/_fake/faults\n" +
			"  curl http://ADDR/_fake/stats",
		Flags: mimecastfake.CLIFlags(),
		Action: func(c *cli.Context) error {
			opts, err := mimecastfake.OptionsFromCLI(c)
			if err != nil {
				return err
			}
			fake, err := serveFake(c.String(mimecastfake.FlagAddr), opts)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()

			// The credentials are the fake's own, never real ones, so printing them is the point.
			fmt.Fprintf(os.Stderr, "simulated Mimecast tenant (seed %d) listening on %s\n", opts.Seed, fake.url)
			fmt.Fprintf(os.Stderr, "  client id:     %s\n  client secret: %s\n", opts.Clients[0].ID, opts.Clients[0].Secret)

			select {
			case err := <-fake.served:
				return fmt.Errorf("serving the simulated tenant: %w", err)
			case <-ctx.Done():
			}
			if err := fake.stop(); err != nil {
				return err
			}
			return nil
		},
	}
}
