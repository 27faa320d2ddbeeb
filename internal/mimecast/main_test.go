package mimecast

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a leaked poller, token
// fetch or HTTP connection would grow without bound in a long-running pipeline.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
