package processor

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	// The examples use mimecast_threats and core io components.
	_ "github.com/mimecast-connect/mimecast-connect/input"
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
)

func TestEnrichSpecExamplesAreValidConfigs(t *testing.T) {
	var examples []service.TemplatDataPluginExample // sic: the v4.60.0 spelling
	service.GlobalEnvironment().WalkProcessors(func(name string, v *service.ConfigView) {
		if name != "mimecast_enrich" {
			return
		}
		td, err := v.TemplateData()
		require.NoError(t, err)
		examples = td.Examples
	})
	require.NotEmpty(t, examples)
	for _, ex := range examples {
		t.Run(ex.Title, func(t *testing.T) {
			b := service.NewStreamBuilder()
			b.SetEnvVarLookupFunc(func(string) (string, bool) { return "x", true })
			assert.NoError(t, b.SetYAML(ex.Config))
		})
	}
}
