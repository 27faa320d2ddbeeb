package threats

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

func TestSelectionValuesThatMatchNothingAreRefusedWithTheNearestKnownOne(t *testing.T) {
	cases := []struct{ fields, want string }{
		{"threat_types: [phishing, malwre]\n", `threat_types[1]: "malwre" matches nothing any feed sends (did you mean malware?)`},
		{"threat_types: [phish]\n", `threat_types[0]: "phish" matches nothing any feed sends (did you mean phishing?)`},
		{"statuses: [quarantined]\n", `statuses[0]: "quarantined" matches nothing any feed sends: use values of blocked, rejected`},
		{"statuses: [Held, BLOKED]\n", `statuses[1]: "bloked" matches nothing any feed sends (did you mean blocked?)`},
		{"threat_sources: [e-mail]\n", `threat_sources[0]: "e-mail" matches nothing any feed sends (did you mean email?)`},
		{"feeds: [threat_events, url_protect]\nthreat_types: [Malware, URL]\nstatuses: [held, blocked]\nthreat_sources: [url_protect, email]\n", ""},
	}
	runConfigCases(t, cases)
}

// A feed none of whose records can pass the selections is refused rather than polled for
// nothing; a selection some record of every feed can pass is not.
func TestFeedsTheSelectionsShutOutAreRefused(t *testing.T) {
	cases := []struct{ fields, want string }{
		{"threat_types: [url]\nthreat_sources: [email]\n", "feeds: threat_events never passes threat_types [url]: its records carry malware, phishing, spam, suspicious, unwanted; remove threat_events from feeds"},
		{"feeds: [url_protect]\nthreat_sources: [email]\n", "feeds: url_protect never passes threat_sources [email]: its records carry url_protect"},
		{"feeds: [threat_events, url_protect]\nthreat_types: [url]\nthreat_sources: [email]\n", "feeds: threat_events never passes threat_types [url]"},
		{"threat_sources: [url_protect]\n", "feeds: threat_events never passes threat_sources [url_protect]: its records carry email, url"},
		{"feeds: [held_messages]\nstatuses: [blocked]\n", "feeds: held_messages never passes statuses [blocked]: its records carry held, released, rejected"},
		{"feeds: [attachment_protect]\nstatuses: [warned]\n", "feeds: attachment_protect never passes statuses [warned]"},
		{"feeds: [siem]\nsiem_event_types: [av]\nthreat_types: [policy]\n", "feeds: siem never passes threat_types [policy]"},
		{"feeds: [url_protect]\nstatuses: [warned]\nthreat_types: [url]\n", ""},
		{"feeds: [impersonation_protect]\nstatuses: [tagged]\n", ""},
		{"feeds: [siem]\nsiem_event_types: [av]\nstatuses: [sandboxed]\nthreat_sources: [siem]\n", ""},
		{"feeds: [held_messages, threat_events]\nthreat_types: [spam]\nstatuses: [held]\n", ""},
	}
	runConfigCases(t, cases)
}

// runConfigCases parses each case's fields as a mimecast_threats config: want is part of the
// error, or empty for a config that is accepted.
func runConfigCases(t *testing.T, cases []struct{ fields, want string }) {
	t.Helper()
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
