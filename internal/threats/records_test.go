package threats

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// impersonationPair is two log entries of one impersonation detection: one id, two messages,
// three minutes apart, as Mimecast reports a detection that hit twice; and the first of them
// again, as a server repeating a record does.
func impersonationPair(t time.Time) string {
	at := func(d time.Duration) string { return t.Add(d).UTC().Format("2006-01-02T15:04:05-0700") }
	one := `{"id":"MTOKEN:eNqrVkrOLypRsjI0NjEyMjIwMDQ","senderAddress":"ceo@lookalike.example","recipientAddress":"cfo@corp.example","subject":"Urgent wire","definition":"IP - 1 hit (Tag email)","hits":1,"action":"none","taggedExternal":false,"taggedMalicious":true,"eventTime":"` + at(3*time.Minute) + `","messageId":"<0-MN2PR16MB2927.namprd16.prod.outlook.com>"}`
	two := `{"id":"MTOKEN:eNqrVkrOLypRsjI0NjEyMjIwMDQ","senderAddress":"ceo@lookalike.example","recipientAddress":"cfo@corp.example","subject":"Urgent wire","definition":"IP - 1 hit (Tag email)","hits":1,"action":"none","taggedExternal":false,"taggedMalicious":true,"eventTime":"` + at(0) + `","messageId":"<1-MN2PR16MB2927.namprd16.prod.outlook.com>"}`
	return `{"meta":{"status":200,"pagination":{"pageSize":3}},"data":[{"impersonationLogs":[` + one + `,` + two + `,` + one + `],"resultCount":3}],"fail":[]}`
}

// An id names a detection, not an event: two entries of one id at other times for other
// messages are two events, and the same entry served twice is one.
func TestThreatsTwoEventsOfOneDetectionIDAreBothEmitted(t *testing.T) {
	body := impersonationPair(time.Now().Add(-time.Hour))
	var served atomic.Bool // the records are served once: later windows no longer hold them
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/oauth/token":
			_, _ = w.Write([]byte(`{"access_token":"records-token-0123456789","token_type":"Bearer","expires_in":1799}`))
		case mimecast.PathImpersonationLogs:
			if served.Swap(true) {
				_, _ = w.Write([]byte(`{"meta":{"status":200,"pagination":{"pageSize":0}},"data":[{"impersonationLogs":[],"resultCount":0}],"fail":[]}`))
				return
			}
			_, _ = w.Write([]byte(body))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	msgs := collectAll(t, threatsYAML(srv.URL, "feeds: [impersonation_protect]\n"), "", 2)
	require.Len(t, msgs, 2, "both events, and the repeat caught")
	ids := eventIDs(msgs)
	assert.NotEqual(t, ids[0], ids[1], "each event has its own mimecast_event_id")
	var messageIDs []string
	for _, m := range msgs {
		assert.Equal(t, "MTOKEN:eNqrVkrOLypRsjI0NjEyMjIwMDQ", meta(m, metaRecordID), "Mimecast's id is kept as mimecast_record_id")
		messageIDs = append(messageIDs, meta(m, metaMessageID))
	}
	assert.ElementsMatch(t, []string{"<0-MN2PR16MB2927.namprd16.prod.outlook.com>", "<1-MN2PR16MB2927.namprd16.prod.outlook.com>"}, messageIDs)
}
