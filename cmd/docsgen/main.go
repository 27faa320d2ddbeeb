// Command docsgen writes the Markdown reference pages in docs/components from
// the config specs of the components built into mimecast-connect.
//
//	go run ./cmd/docsgen            # regenerate docs/components
//	go run ./cmd/docsgen --check    # exit 1 if docs/components is out of date (CI)
//
// Run it from the repository root, or point --out at the docs directory.
// Benthos v4.60.0's ConfigView.RenderDocs fails on its own template, so the
// pages come from TemplateData and a template of ours.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/cmd/docsgen/componentdocs"

	// The same component packages as cmd/mimecast-connect, so the docs
	// describe exactly what the binary registers, and linting their examples
	// in tests sees the same core components (stdout, file cache, ...).
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/mimecast-connect/mimecast-connect/input"
	_ "github.com/mimecast-connect/mimecast-connect/metrics"
	_ "github.com/mimecast-connect/mimecast-connect/processor"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("docsgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "docs/components", "directory of the generated pages")
	check := fs.Bool("check", false, "report whether the pages in --out are up to date instead of writing them; exit 1 if not")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "docsgen: unexpected arguments %q\n", fs.Args())
		return 2
	}

	files, err := componentdocs.Generate(service.GlobalEnvironment())
	if err != nil {
		fmt.Fprintf(stderr, "docsgen: %v\n", err)
		return 1
	}

	if *check {
		drift, err := componentdocs.Check(*out, files)
		if err != nil {
			fmt.Fprintf(stderr, "docsgen: %v\n", err)
			return 1
		}
		if !drift.Empty() {
			fmt.Fprintf(stderr, "docsgen: %s is out of date with the component specs:\n%sRun `go run ./cmd/docsgen` and commit the result.\n", *out, drift)
			return 1
		}
		fmt.Fprintf(stdout, "docsgen: %s is up to date (%d pages)\n", *out, len(files))
		return 0
	}

	if err := componentdocs.Write(*out, files); err != nil {
		fmt.Fprintf(stderr, "docsgen: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "docsgen: wrote %d pages to %s\n", len(files), *out)
	return 0
}
