package threats

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

func TestSelectionValuesThatMatchNothingAreRefusedWithTheNearestKnownOne(t *testing.T) {
	cases := []struct {
		fields, want string
	}{
		{"threat_types: [phishing, malwre]\n", `threat_types[1]: "malwre" matches nothing any feed sends (did you mean malware?)`},
		{"threat_types: [phish]\n", `threat_types[0]: "phish" matches nothing any feed sends (did you mean phishing?)`},
		{"statuses: [quarantined]\n", `statuses[0]: "quarantined" matches nothing any feed sends: use values of blocked, rejected`},
		{"statuses: [Held, BLOKED]\n", `statuses[1]: "bloked" matches nothing any feed sends (did you mean blocked?)`},
		{"threat_sources: [e-mail]\n", `threat_sources[0]: "e-mail" matches nothing any feed sends (did you mean email?)`},
		{"threat_types: [Malware]\nstatuses: [held, released]\nthreat_sources: [url_protect]\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.fields, func(t *testing.T) {
			conf, err := Spec().ParseYAML(streamtest.ConnYAML("http://127.0.0.1:9")+tc.fields, nil)
			require.NoError(t, err)
			c, err := threatsConfigFromParsed(conf, service.MockResources())
			if tc.want == "" {
				require.NoError(t, err)
				c.conn.Close()
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
