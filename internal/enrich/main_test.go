package enrich

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"go.uber.org/goleak"
)

// The stream tests of this package build mimecast_enrich by name: register it as the processor
// package does (a test here cannot import that package, which imports this one).
func init() {
	service.MustRegisterBatchProcessor(Name, Spec(), NewProcessor)
}

// TestMain fails the package's tests if any goroutine outlives them: a leaked poller, token
// fetch or HTTP connection would grow without bound in a long-running pipeline.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
