package threats

import (
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

func TestThreatsEveryFeedEmitsWithItsNormalisedMetadata(t *testing.T) {
	_, url := streamtest.FakeTenant(t, smallTenant())
	c := streamtest.NewCollector()
	streamtest.StartStream(t, streamtest.StreamSpec{Input: threatsYAML(url, "feeds: [threat_events, url_protect, attachment_protect, impersonation_protect, held_messages, siem]\n")}, c)
	want := []string{
		"url_protect/url_protect", "attachment_protect/attachment_protect",
		"impersonation_protect/impersonation_protect", "held_messages/hold_queue",
		"held_messages/release_log", "siem/siem", "threat_events/email",
	}
	msgs := c.WaitFor(t, 15*time.Second, func(m []*service.Message) bool {
		seen := map[string]bool{}
		for _, msg := range m {
			seen[meta(msg, metaFeed)+"/"+meta(msg, metaSource)] = true
		}
		for _, w := range want {
			if !seen[w] {
				return false
			}
		}
		return true
	})
	for _, m := range msgs {
		require.NoError(t, m.GetError())
		assert.NotEmpty(t, meta(m, metaEventID))
		assert.NotEmpty(t, meta(m, metaEventTime))
	}
	for _, m := range msgs {
		switch meta(m, metaSource) {
		case "hold_queue":
			assert.Equal(t, "held", meta(m, metaStatus))
			assert.Contains(t, []string{"spam", "policy"}, meta(m, metaThreatType))
		case "release_log":
			assert.Contains(t, []string{"released", "rejected"}, meta(m, metaStatus))
		case "attachment_protect":
			assert.Contains(t, []string{"malware", "attachment"}, meta(m, metaThreatType))
		}
	}
}

func TestThreatsSIEMLookbackPastRetentionStartsAtTheLimit(t *testing.T) {
	in := &threatsInput{log: service.MockResources().Logger()}
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	st := (&siemSource{in: in, eventType: "av"}).start(now, 30*24*time.Hour)
	assert.Equal(t, now.Add(-siemRetention), st.Cursor)
	st = (&siemSource{in: in, eventType: "av"}).start(now, 48*time.Hour)
	assert.Equal(t, now.Add(-48*time.Hour), st.Cursor)
}
