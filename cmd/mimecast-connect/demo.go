package main

import (
	"context"
	"fmt"
	"os"

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
			"pipeline config as `run` would. Stop it with Ctrl-C.",
		ArgsUsage: "[config.yaml]",
		Flags: []cli.Flag{
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "seed of the simulated tenant"},
		},
		Action: func(c *cli.Context) error {
			path := "./config/threats_demo.yaml"
			if c.Args().Len() > 0 {
				path = c.Args().First()
			}
			if _, err := os.Stat(path); err != nil {
				return fmt.Errorf("reading demo pipeline: %w (run the demo from the repository root, or name a config file)", err)
			}
			fake, err := serveFake("127.0.0.1:0", mimecastfake.Options{Seed: c.Int64("seed")})
			if err != nil {
				return err
			}
			go fake.reportFailure()
			defer fake.stop()

			env := map[string]string{
				"MIMECAST_API_URL":       fake.url,
				"MIMECAST_CLIENT_ID":     mimecastfake.DefaultClientID,
				"MIMECAST_CLIENT_SECRET": mimecastfake.DefaultClientSecret,
			}
			fmt.Fprintf(os.Stderr, "simulated Mimecast tenant at %s; running %s\n", env["MIMECAST_API_URL"], path)
			code, err := service.RunCLIToCode(c.Context, append(cliOptions(),
				service.CLIOptSetArgs("mimecast-connect", "run", path),
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
