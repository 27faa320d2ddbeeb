package reliability

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildBinary compiles ./cmd/mimecast-connect of the module that holds the working directory
// into dir and returns the binary's path. It uses the build cache, so after `go build ./...` it
// only links.
func BuildBinary(ctx context.Context, dir string) (string, error) {
	mod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module: %w", err)
	}
	gomod := strings.TrimSpace(string(mod))
	if gomod == "" || gomod == "/dev/null" {
		return "", fmt.Errorf("finding the module: not inside one (run from the repository)")
	}
	out := filepath.Join(dir, "mimecast-connect")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/mimecast-connect")
	cmd.Dir = filepath.Dir(gomod)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building mimecast-connect: %w: %s", err, msg)
	}
	return out, nil
}
