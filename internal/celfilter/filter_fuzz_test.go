package celfilter

import (
	"strings"
	"testing"
)

// FuzzCompile feeds arbitrary text through Compile and, when it compiles,
// Match: neither may panic, and a failure must name the filter it is about.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		`feed == "ttp_url"`,
		`event.subject.lowerAscii().contains("invoice")`,
		`event.?senderIp.orValue("").matches("^10\\.")`,
		`event_time > timestamp("2024-01-01T00:00:00Z")`,
		`event.recipients.exists(r, r.endsWith("@example.org"))`,
		`threat_type in ["malware", "impersonation"] && status != "released"`,
		`event.x + 1`,
		`evnt.x`,
		`((((`,
		`"unterminated`,
		`event.subject.matches("(")`,
	} {
		f.Add(seed)
	}
	in := sampleInput()
	f.Fuzz(func(t *testing.T, expr string) {
		set, err := Compile([]Rule{{Expression: expr, Action: ActionInclude}})
		if err != nil {
			if set != nil {
				t.Fatalf("Compile returned both a set and an error: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "filters[0].expression: ") {
				t.Fatalf("error does not name the filter: %v", err)
			}
			return
		}
		_, errs := set.Match(in)
		for _, e := range errs {
			if !strings.HasPrefix(e.Error(), "filters[0] (include): ") {
				t.Fatalf("evaluation error does not name the filter: %v", e)
			}
		}
	})
}
