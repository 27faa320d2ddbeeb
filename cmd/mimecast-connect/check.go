package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// checkCommand is the "Test & Save" step of a pipeline: before anything runs, it tells an admin
// whether the credentials of every Mimecast component work and which permission is missing.
// Benthos v4.60.0 has no connection-test hook, hence a subcommand.
func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "Test the Mimecast connections of a pipeline config: a token, then one small call per feature it turns on",
		Description: "Reads the config as `run` would (environment variables resolved, resource files\n" +
			"with -r) and, for every mimecast_threats, mimecast_archive and mimecast_enrich in it,\n" +
			"fetches a token and makes the smallest call of each feature the config turns on (page\n" +
			"size 1, no retries, each bounded by the component's timeout). Prints what works, what\n" +
			"Mimecast refused and which product or permission to grant. Exits 0 when everything\n" +
			"works, 1 otherwise, 2 when the config has no Mimecast component. Never prints a secret\n" +
			"or a token, and never touches checkpoint caches.",
		ArgsUsage: "config.yaml",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "resources", Aliases: []string{"r"}, Usage: "a resource file the config uses (rate limits, caches, input or processor resources), as for run -r; repeat for several"},
			&cli.StringFlag{Name: "format", Value: formatTable, Usage: "output format: table or json"},
		},
		Action: func(c *cli.Context) error {
			args, err := parseTrailingCheckFlags(c.Args().Slice(), c.String("format"), resourceFlags(c))
			if err != nil {
				return err
			}
			format := args.format
			if format != formatTable && format != formatJSON {
				return fmt.Errorf("--format %q: use table or json", format)
			}
			code := runCheck(c.Context, checkRequest{
				configPath: args.path,
				resources:  args.resources,
				format:     format,
				lookupEnv:  os.LookupEnv,
				now:        time.Now,
			}, c.App.Writer, c.App.ErrWriter)
			if code != exitAllOK {
				// An empty message: the report has said everything.
				return cli.Exit("", code)
			}
			return nil
		},
	}
}

// checkArgs are check's config file and the flags given after it.
type checkArgs struct {
	path      string
	format    string
	resources []string
}

// parseTrailingCheckFlags takes the config file from args and the flags written after it
// (`check config.yaml --format json -r res.yaml`), which the command line parser leaves in the
// arguments; format and resources are what was given before it.
func parseTrailingCheckFlags(args []string, format string, resources []string) (checkArgs, error) {
	const usage = "check takes one pipeline config file: mimecast-connect check [-r resources.yaml] [--format table|json] config.yaml"
	out := checkArgs{format: format, resources: resources}
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&out.format, "format", format, "")
	fs.Func("r", "", func(v string) error { out.resources = append(out.resources, v); return nil })
	fs.Func("resources", "", func(v string) error { out.resources = append(out.resources, v); return nil })
	for len(args) > 0 {
		if strings.HasPrefix(args[0], "-") {
			if err := fs.Parse(args); err != nil {
				return checkArgs{}, fmt.Errorf("%w: %s", err, usage)
			}
			args = fs.Args()
			continue
		}
		if out.path != "" {
			return checkArgs{}, errors.New(usage)
		}
		out.path, args = args[0], args[1:]
	}
	if out.path == "" {
		return checkArgs{}, errors.New(usage)
	}
	out.resources = slices.Compact(out.resources)
	return out, nil
}

// resourceFlags gathers -r given after `check` and before it (the root's hidden flag), as `run`
// accepts both.
func resourceFlags(c *cli.Context) []string {
	var out []string
	for _, ctx := range c.Lineage() {
		for _, r := range ctx.StringSlice("resources") {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// Output formats of check.
const (
	formatTable = "table"
	formatJSON  = "json"
)

// checkRequest is one run of check; the environment and the clock are parameters so that tests
// can run several checks side by side.
type checkRequest struct {
	configPath string
	resources  []string
	format     string
	lookupEnv  func(string) (string, bool)
	now        func() time.Time
}

// runCheck checks every Mimecast component of the config and returns the exit code.
func runCheck(ctx context.Context, req checkRequest, stdout, stderr io.Writer) int {
	rep := &checkReport{Config: req.configPath, Resources: req.resources, Components: []componentReport{}}
	scrub := &scrubber{}
	files, err := loadConfigFiles(req.configPath, req.resources, req.lookupEnv)
	if err != nil {
		rep.ExitCode, rep.Message = exitNotAllOK, err.Error()
		return finishCheck(rep, req.format, scrub, stdout, stderr)
	}
	var (
		found              []componentCheck
		rateLimits, caches []string
	)
	for _, f := range files {
		rateLimits = append(rateLimits, resourceLabels(f, "rate_limit_resources")...)
		caches = append(caches, resourceLabels(f, "cache_resources")...)
	}
	for i, f := range files {
		for _, c := range findComponents(f) {
			scrub.add(c.secret())
			found = append(found, componentCheck{
				found: c, display: componentDisplayPath(f.name, i == 0, c.path),
				rateLimits: rateLimits, caches: caches, now: req.now,
			})
		}
	}
	if len(found) == 0 {
		rep.ExitCode = exitNoComponent
		rep.Message = fmt.Sprintf("no mimecast_threats, mimecast_archive or mimecast_enrich component in %s", req.configPath)
		if len(req.resources) > 0 {
			rep.Message += " or its resource files"
		}
		return finishCheck(rep, req.format, scrub, stdout, stderr)
	}
	for _, c := range found {
		cr := c.run(ctx)
		scrub.add(cr.secrets...)
		rep.Components = append(rep.Components, cr)
	}
	rep.verdict()
	return finishCheck(rep, req.format, scrub, stdout, stderr)
}

// finishCheck prints the report and returns its exit code. A report with no component (the
// config could not be read, or holds none) goes to stderr in table format, to stdout in JSON.
func finishCheck(rep *checkReport, format string, scrub *scrubber, stdout, stderr io.Writer) int {
	scrub.report(rep)
	var err error
	switch {
	case format == formatJSON:
		err = rep.writeJSON(stdout)
	case len(rep.Components) == 0:
		_, err = fmt.Fprintln(stderr, rep.Message)
	default:
		err = rep.writeTable(stdout)
	}
	if err != nil && rep.ExitCode == exitAllOK {
		return exitNotAllOK
	}
	return rep.ExitCode
}
