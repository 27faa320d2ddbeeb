package metrics

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNamesFollowPrometheusRules(t *testing.T) {
	tests := []struct {
		kind, prefix, in, want string
	}{
		{kind: "metric", in: "input_received", want: "input_received"},
		{kind: "metric", in: "mimecast.api-calls", want: "mimecast_api_calls"},
		{kind: "metric", in: "rule:ratio", want: "rule_ratio"},
		{kind: "metric", in: "5xx_responses", want: "_5xx_responses"},
		{kind: "metric", in: "naïve", want: "na__ve"},
		{kind: "metric", in: "", want: "_"},
		{kind: "metric", prefix: "mimecast", in: "input_received", want: "mimecast_input_received"},
		{kind: "metric", prefix: "mimecast_", in: "input_received", want: "mimecast_input_received"},
		{kind: "metric", prefix: "9lives", in: "x", want: "_9lives_x"},
		{kind: "timer", in: "input_latency_ns", want: "input_latency_seconds"},
		{kind: "timer", in: "fetch_duration", want: "fetch_duration"},
		{kind: "timer", in: "ns", want: "ns"},
		{kind: "timer", prefix: "mc", in: "mimecast_api_call_duration_ns", want: "mc_mimecast_api_call_duration_seconds"},
		{kind: "label", in: "path", want: "path"},
		{kind: "label", in: "http.status", want: "http_status"},
		{kind: "label", in: "__name__", want: "_name__"},
		{kind: "label", in: "1st", want: "_1st"},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.prefix+"/"+tt.in, func(t *testing.T) {
			var got string
			switch tt.kind {
			case "metric":
				got = promMetricName(tt.prefix, tt.in)
			case "timer":
				got = promTimerName(tt.prefix, tt.in)
			case "label":
				got = promLabelName(tt.in)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
