package reliability

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildBinary compiles ./cmd/mimecast-connect of the module that holds the working directory
// into dir and returns the binary's path. It uses the build cache, so after `go build ./...` it
// only links.
func BuildBinary(ctx context.Context, dir string) (string, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "mimecast-connect")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/mimecast-connect")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building mimecast-connect: %w: %s", err, msg)
	}
	return out, nil
}

// ModuleRoot is the directory of the go.mod that holds the working directory.
func ModuleRoot(ctx context.Context) (string, error) {
	mod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module: %w", err)
	}
	gomod := strings.TrimSpace(string(mod))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("finding the module: not inside one (run from the repository)")
	}
	return filepath.Dir(gomod), nil
}
