package reliability

import (
	"math/rand/v2"
	"reflect"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// soakFault is one misbehaviour the soak injects; pick draws its size.
type soakFault struct {
	name string
	pick func(rng *rand.Rand) mimecastfake.Faults
}

// waitsForFile says whether a fault set is taken only by a SIEM listing that has files, which
// after the backlog happens once per batch window.
func waitsForFile(f mimecastfake.Faults) bool {
	return f.TruncatedGzip+f.MalformedLines+f.DuplicateURLs+f.ExpiredURLs > 0
}

// faultHold is how long the soak keeps a fault set, at most, while no request has taken it:
// replaced after a few seconds, a fault set between two of the pipeline's polls, or waiting for
// a SIEM file when none was due, was never exercised. A file fault may wait up to two batch
// windows (window is the tenant's) plus a poll; any other counting fault two of the demo's
// 5 s polls, or twice the mean time between faults (every) if shorter, so a run with frequent
// faults keeps them frequent. An outage (ServerErrorFor) does not count down and is not held.
func faultHold(f mimecastfake.Faults, window, every time.Duration) time.Duration {
	switch {
	case waitsForFile(f):
		return 2*window + 10*time.Second
	case f.ServerErrorFor > 0:
		return 0
	default:
		return min(2*every, 10*time.Second)
	}
}

// malformedLineFault is the name of the fault whose every taking should show as one
// undecodable line of output.
const malformedLineFault = "malformed JSON line"

// soakFaults are the tenant's fault knobs, each sized like the incidents collectors meet: short
// 429 bursts under every header variant, 5xx runs and outages, expired tokens, a token
// endpoint down, slow answers, proxy error pages, failures behind HTTP 200, cut connections,
// broken or expired SIEM files and pages that repeat records.
var soakFaults = []soakFault{
	{"429 burst (X-RateLimit-Reset)", func(r *rand.Rand) mimecastfake.Faults {
		return mimecastfake.Faults{RateLimitBurst: 1 + r.IntN(5), RateLimitHeaders: mimecastfake.RateLimitHeadersReset, RateLimitResetMs: 200 + r.IntN(1800)}
	}},
	{"429 burst (Retry-After)", func(r *rand.Rand) mimecastfake.Faults {
		return mimecastfake.Faults{RateLimitBurst: 1 + r.IntN(5), RateLimitHeaders: mimecastfake.RateLimitHeadersRetryAfter, RateLimitResetMs: 1000}
	}},
	{"429 burst (no headers)", func(r *rand.Rand) mimecastfake.Faults {
		return mimecastfake.Faults{RateLimitBurst: 1 + r.IntN(3), RateLimitHeaders: mimecastfake.RateLimitHeadersNone}
	}},
	{"5xx", func(r *rand.Rand) mimecastfake.Faults { return mimecastfake.Faults{ServerErrors: 1 + r.IntN(4)} }},
	{"5xx outage", func(r *rand.Rand) mimecastfake.Faults {
		return mimecastfake.Faults{ServerErrorFor: time.Duration(2+r.IntN(10)) * time.Second}
	}},
	{"401 token expired", func(r *rand.Rand) mimecastfake.Faults { return mimecastfake.Faults{ExpireTokens: 1 + r.IntN(2)} }},
	{"token endpoint down", func(r *rand.Rand) mimecastfake.Faults {
		return mimecastfake.Faults{ExpireTokens: 1, TokenEndpointDown: 1 + r.IntN(3)}
	}},
	{"slow responses", func(r *rand.Rand) mimecastfake.Faults {
		return mimecastfake.Faults{SlowResponses: 1 + r.IntN(3), SlowBy: time.Duration(500+r.IntN(2500)) * time.Millisecond}
	}},
	{"HTML error page", func(r *rand.Rand) mimecastfake.Faults { return mimecastfake.Faults{HTMLErrorPages: 1 + r.IntN(3)} }},
	{"fail[] with HTTP 200", func(r *rand.Rand) mimecastfake.Faults { return mimecastfake.Faults{FailWith200: 1 + r.IntN(2)} }},
	{"connection reset mid-body", func(r *rand.Rand) mimecastfake.Faults { return mimecastfake.Faults{ResetMidBody: 1 + r.IntN(3)} }},
	{"truncated gzip", func(*rand.Rand) mimecastfake.Faults { return mimecastfake.Faults{TruncatedGzip: 1} }},
	{malformedLineFault, func(*rand.Rand) mimecastfake.Faults { return mimecastfake.Faults{MalformedLines: 1} }},
	{"same URL twice", func(*rand.Rand) mimecastfake.Faults { return mimecastfake.Faults{DuplicateURLs: 1} }},
	{"expired download URL", func(*rand.Rand) mimecastfake.Faults { return mimecastfake.Faults{ExpiredURLs: 1} }},
	{"same event on two pages", func(r *rand.Rand) mimecastfake.Faults {
		return mimecastfake.Faults{DuplicateAcrossPages: 1 + r.IntN(3)}
	}},
}

// faultDeck deals the soak's faults in rounds: each round is every kind once, in a shuffled
// order, so a run of len(soakFaults) faults or more injects every kind. Drawing each fault
// independently left some kinds out of runs of a few minutes.
type faultDeck struct {
	rng  *rand.Rand
	left []int
}

func (d *faultDeck) next() soakFault {
	if len(d.left) == 0 {
		d.left = d.rng.Perm(len(soakFaults))
	}
	f := soakFaults[d.left[0]]
	d.left = d.left[1:]
	return f
}

// countedDown says whether a fault set with set was taken at least once by the time left was
// read: one of its counters went down. It knows nothing of ServerErrorFor, which does not
// count; the soak judges that one by the 5xx answers during its window.
func countedDown(set, left mimecastfake.Faults) bool {
	sv, lv := reflect.ValueOf(set), reflect.ValueOf(left)
	for i := range sv.NumField() {
		if sv.Field(i).Kind() == reflect.Int && lv.Field(i).Int() < sv.Field(i).Int() {
			return true
		}
	}
	return false
}
