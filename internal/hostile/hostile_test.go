package hostile

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const body = "Header-One: 1\r\nSubject: hello\r\n\r\nthe body of the answer"

func serve(t *testing.T, rules ...Rule) (*Server, string) {
	t.Helper()
	s := Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "message/rfc822")
		_, _ = io.WriteString(w, body)
	}), rules...)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func get(t *testing.T, url string) (status int, got string, readErr error) {
	t.Helper()
	resp, err := http.Get(url + "/part")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestEachMisbehaviourDoesWhatItSays(t *testing.T) {
	cases := []struct {
		name    string
		do      Misbehaviour
		status  int
		got     string
		readErr bool
	}{
		{"cut at half", Cut{}, 200, body[:len(body)/2], true},
		{"cut inside a header name", Cut{At: Inside("\r\nSubject:", 4)}, 200, "Header-One: 1\r\nSu", true},
		{"cut where the marker is missing: at half", Cut{At: Inside("X-Missing", 2)}, 200, body[:len(body)/2], true},
		{"length that lies", LongerThanSent{Extra: 10}, 200, body, true},
		{"trickle cut off", Trickle{Head: 5, Every: 5 * time.Millisecond, For: 30 * time.Millisecond}, 200, "", true},
		{"status of its own", Status{Code: 503, Body: "busy"}, 503, "busy", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, url := serve(t, Rule{Match: Path("/part"), Times: 1, Do: tc.do})
			status, got, err := get(t, url)
			assert.Equal(t, tc.status, status)
			if tc.got != "" {
				assert.Equal(t, tc.got, got)
			} else {
				assert.True(t, strings.HasPrefix(body, got) && len(got) >= 5 && len(got) < len(body), "a head and a few bytes: %q", got)
			}
			if tc.readErr {
				assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, 1, s.Applied(0))
			// Times: 1, so the next answer is the handler's own.
			status, got, err = get(t, url)
			require.NoError(t, err)
			assert.Equal(t, 200, status)
			assert.Equal(t, body, got)
			assert.Equal(t, 1, s.Applied(0))
		})
	}
}

func TestRulesMatchOnlyTheirPath(t *testing.T) {
	s, url := serve(t, Rule{Match: Path("/other"), Do: Status{Code: 500}})
	status, got, err := get(t, url)
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.Equal(t, body, got)
	assert.Zero(t, s.Applied(0))
}
