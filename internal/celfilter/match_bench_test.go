package celfilter

import "testing"

// BenchmarkMatch measures a typical configuration: one exclude on a status,
// one include on the threat type and one on the subject, against a record
// that passes the exclude and matches the second include.
func BenchmarkMatch(b *testing.B) {
	set := mustCompile(b,
		exclude(`status == "released" || event.?senderIp.orValue("").startsWith("10.")`),
		include(`threat_type in ["malware", "impersonation"]`),
		include(`event.subject.lowerAscii().matches("invoice|payment|wire transfer")`),
	)
	in := sampleInput()
	for b.Loop() {
		keep, errs := set.Match(in)
		if !keep || errs != nil {
			b.Fatalf("keep=%v errs=%v", keep, errs)
		}
	}
}

// BenchmarkMatchWithComprehension adds a loop over the recipients, which
// also pays for the per-event deadline that only looping rules get.
func BenchmarkMatchWithComprehension(b *testing.B) {
	set := mustCompile(b,
		exclude(`status == "released"`),
		include(`event.recipients.exists(r, r.endsWith("@example.org"))`),
	)
	in := sampleInput()
	for b.Loop() {
		keep, errs := set.Match(in)
		if !keep || errs != nil {
			b.Fatalf("keep=%v errs=%v", keep, errs)
		}
	}
}
