package input

import (
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/archive"
)

func init() {
	service.MustRegisterBatchInput(archive.Name, archive.Spec(), archive.NewBatchInput)
}
