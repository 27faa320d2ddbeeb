// Command mimecast-connect is Benthos with the Mimecast plugins built in.
package main

import (
	"context"
	"runtime/debug"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/mimecast-connect/mimecast-connect/input"
	_ "github.com/mimecast-connect/mimecast-connect/processor"

	_ "github.com/mimecast-connect/mimecast-connect/metrics"
)

// Version and DateBuilt are set at build time with -ldflags "-X main.Version=... -X main.DateBuilt=...".
var (
	Version   = "0.0.0-dev"
	DateBuilt = "unknown"
)

func main() {
	service.RunCLI(context.Background(), cliOptions()...)
}

// buildVersion is Version and DateBuilt, or, for a plain go build or go install, what the Go
// toolchain recorded: the module version, else the VCS revision and its time.
func buildVersion() (version, date string) {
	info, ok := debug.ReadBuildInfo()
	return versionFrom(Version, DateBuilt, info, ok)
}

func versionFrom(version, date string, info *debug.BuildInfo, ok bool) (string, string) {
	if !ok || version != "0.0.0-dev" {
		return version, date
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		version = strings.TrimPrefix(v, "v")
	}
	var rev, at string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && version == "0.0.0-dev" {
		version += "+" + rev[:min(12, len(rev))]
		if dirty {
			version += ".dirty"
		}
	}
	if at != "" && date == "unknown" {
		date = at
	}
	return version, date
}

func cliOptions() []service.CLIOptFunc {
	version, date := buildVersion()
	return []service.CLIOptFunc{
		service.CLIOptSetVersion(version, date),
		service.CLIOptSetBinaryName("mimecast-connect"),
		service.CLIOptSetProductName("mimecast-connect"),
		service.CLIOptSetDocumentationURL("https://github.com/mimecast-connect/mimecast-connect"),
		service.CLIOptAddCommand(demoCommand()),
		service.CLIOptAddCommand(fakeAPICommand()),
		service.CLIOptAddCommand(checkCommand()),
		service.CLIOptCustomRunFlags(nil, lintResourceRefs),
	}
}
