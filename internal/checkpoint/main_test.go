package checkpoint

import (
	"testing"

	// The file cache the store tests write through lives in the io components.
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
