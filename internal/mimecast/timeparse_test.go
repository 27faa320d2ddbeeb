package mimecast

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTimeAcceptsEveryMimecastRepresentation(t *testing.T) {
	want := time.Date(2024, 11, 14, 19, 44, 2, 0, time.UTC)
	wantMillis := time.Date(2024, 6, 5, 11, 50, 6, 389_000_000, time.UTC)
	tests := []struct {
		name string
		in   any
		want time.Time
	}{
		{"api -0700", "2024-11-14T19:44:02+0000", want},
		{"api -0700 other zone", "2024-11-14T20:44:02+0100", want},
		{"api -0700 with millis", "2024-06-05T11:50:06.389+0000", wantMillis},
		{"rfc3339 Z", "2024-11-14T19:44:02Z", want},
		{"rfc3339 +00:00", "2024-11-14T19:44:02+00:00", want},
		{"rfc3339nano", "2024-06-05T11:50:06.389Z", wantMillis},
		{"date only", "2024-11-14", time.Date(2024, 11, 14, 0, 0, 0, 0, time.UTC)},
		{"no zone is UTC", "2024-11-14T19:44:02", want},
		{"space separated", "2024-11-14 19:44:02", want},
		{"rfc1123z header date", "Thu, 14 Nov 2024 19:44:02 +0000", want},
		{"epoch ms number", float64(1731613442000), want},
		{"epoch ms int64", int64(1731613442000), want},
		{"epoch ms int", 1731613442000, want},
		{"epoch ms string", "1731613442000", want},
		{"epoch ms json.Number", json.Number("1731613442000"), want},
		{"epoch ms with fraction", "1717588206389.0", wantMillis},
		{"surrounding spaces", "  2024-11-14T19:44:02Z ", want},
		{"raw JSON string", json.RawMessage(`"2024-11-14T19:44:02+0000"`), want},
		{"raw JSON number", json.RawMessage(`1731613442000`), want},
		{"bytes", []byte("2024-11-14T19:44:02Z"), want},
		{"time.Time", want, want},
		{"Time", Time{want}, want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTime(tt.in)
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "got %v want %v", got, tt.want)
		})
	}
}

func TestParseTimeRejectsWhatIsNotATime(t *testing.T) {
	tests := []struct {
		name  string
		in    any
		empty bool
	}{
		{"nil", nil, true},
		{"empty string", "", true},
		{"blank string", "   ", true},
		{"JSON null", json.RawMessage("null"), true},
		{"words", "yesterday", false},
		{"N/A", "N/A", false},
		{"half a date", "2024-11", false},
		{"bool", true, false},
		{"huge number", 1e300, false},
		{"bad month", "2024-13-01T00:00:00Z", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTime(tt.in)
			require.Error(t, err)
			assert.Equal(t, tt.empty, err == ErrEmptyTime, "ErrEmptyTime? %v", err)
		})
	}
}

func TestTimeJSONTreatsNullAndEmptyAsZero(t *testing.T) {
	var v struct {
		A, B, C Time
	}
	require.NoError(t, json.Unmarshal([]byte(`{"A":null,"B":"","C":1731613442000}`), &v))
	assert.True(t, v.A.IsZero())
	assert.True(t, v.B.IsZero())
	assert.Equal(t, "2024-11-14T19:44:02Z", v.C.UTC().Format(time.RFC3339))

	err := json.Unmarshal([]byte(`{"A":"not a time"}`), &v)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a time")
}

func TestTimeJSONRoundTripsAsRFC3339(t *testing.T) {
	in := Time{time.Date(2024, 6, 5, 11, 50, 6, 389_000_000, time.FixedZone("x", 3600))}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.JSONEq(t, `"2024-06-05T10:50:06.389Z"`, string(b))
	var out Time
	require.NoError(t, json.Unmarshal(b, &out))
	assert.True(t, in.Equal(out.Time))

	b, err = json.Marshal(Time{})
	require.NoError(t, err)
	assert.Equal(t, "null", string(b))
}

func TestFormatAPITimeUsesDocumentedLayoutInUTC(t *testing.T) {
	ts := time.Date(2024, 11, 14, 20, 44, 2, 0, time.FixedZone("CET", 3600))
	assert.Equal(t, "2024-11-14T19:44:02+0000", formatAPITime(ts))
	assert.Empty(t, formatAPITime(time.Time{}))
}
