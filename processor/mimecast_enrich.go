package processor

import (
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/enrich"
)

func init() {
	service.MustRegisterBatchProcessor(enrich.Name, enrich.Spec(), enrich.NewProcessor)
}
