package reliability

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"
)

// The tests run the real binary. MIMECAST_CONNECT_BINARY names a built one (CI builds
// target/mimecast-connect first); otherwise it is built once, from the build cache, into a
// directory removed when the tests end.
var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
	binaryDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binaryDir != "" {
		_ = os.RemoveAll(binaryDir)
	}
	os.Exit(code)
}

func testBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		if p := os.Getenv("MIMECAST_CONNECT_BINARY"); p != "" {
			binaryPath = p
			return
		}
		binaryDir, binaryErr = os.MkdirTemp("", "reliability-bin-")
		if binaryErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		binaryPath, binaryErr = BuildBinary(ctx, binaryDir)
	})
	if binaryErr != nil {
		t.Fatalf("building mimecast-connect: %v", binaryErr)
	}
	return binaryPath
}

// testLog sends the harness's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Helper()
	l.t.Log(string(p[:max(len(p)-1, 0)]))
	return len(p), nil
}
