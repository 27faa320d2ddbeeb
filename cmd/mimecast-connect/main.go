// Command mimecast-connect is Benthos with the Mimecast plugins built in.
package main

import (
	"context"

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

func cliOptions() []service.CLIOptFunc {
	return []service.CLIOptFunc{
		service.CLIOptSetVersion(Version, DateBuilt),
		service.CLIOptSetBinaryName("mimecast-connect"),
		service.CLIOptSetProductName("mimecast-connect"),
		service.CLIOptSetDocumentationURL("https://github.com/mimecast-connect/mimecast-connect"),
		service.CLIOptAddCommand(demoCommand()),
		service.CLIOptAddCommand(fakeAPICommand()),
		service.CLIOptAddCommand(checkCommand()),
	}
}
