package archive

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

// Endpoints is what `check` tests: a whole crawl calls exactly the endpoints it lists.
func TestEndpointsListEveryEndpointTheCrawlCalls(t *testing.T) {
	tests := []struct {
		name     string
		extra    string
		features map[string][]string
	}{
		{"content only", "", map[string][]string{mimecast.PathMessagePart: {"content"}}},
		{"attachments need no call of their own", "extract_attachments: true\n",
			map[string][]string{mimecast.PathMessagePart: {"content", "attachments"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, url := streamtest.FakeTenant(t, smallArchive())
			conf, err := Spec().ParseYAML(streamtest.ConnYAML(url)+tt.extra, nil)
			require.NoError(t, err)
			calls, err := Endpoints(conf)
			require.NoError(t, err)

			msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow()+tt.extra)}, 20*time.Second)
			require.NotEmpty(t, msgs)
			assert.ElementsMatch(t, streamtest.EndpointsOf(calls), streamtest.CalledEndpoints(fake))
			for ep, want := range tt.features {
				var got []string
				for _, c := range calls {
					if c.Endpoint == ep {
						got = append(got, c.Feature)
					}
				}
				assert.Equal(t, want, got, ep)
			}
		})
	}
}
