// Package input registers the Mimecast inputs: mimecast_threats (an alert source) and
// mimecast_archive (an archive crawler). Import it for its side effect; the inputs themselves
// live in internal/threats and internal/archive.
package input

import (
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/threats"
)

func init() {
	service.MustRegisterBatchInput(threats.Name, threats.Spec(), threats.NewBatchInput)
}
