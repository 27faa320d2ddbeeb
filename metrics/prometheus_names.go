package metrics

import "strings"

// promMetricName turns a Benthos metric name into one that every Prometheus
// server, client library and query language version accepts: the classic
// `[a-zA-Z_][a-zA-Z0-9_]*` form. Newer Prometheus releases accept UTF-8
// names, but only when the scraper opts in, so the classic form is the one
// that never surprises. Colons are replaced too: the Prometheus docs reserve
// them for recording rules, so exporters must not emit them.
func promMetricName(prefix, name string) string {
	full := name
	if prefix != "" {
		full = strings.TrimSuffix(prefix, "_") + "_" + name
	}
	return sanitiseIdentifier(full)
}

// promTimerName renames a timer to match the unit it is exported in. Benthos
// timers are measured in nanoseconds and conventionally named `..._ns`; this
// exporter observes seconds (the Prometheus base unit), so keeping the `_ns`
// suffix would make the name lie about its unit.
func promTimerName(prefix, name string) string {
	if base, ok := strings.CutSuffix(name, "_ns"); ok {
		name = base + "_seconds"
	}
	return promMetricName(prefix, name)
}

// promLabelName sanitises a label key. Label names starting with "__" are
// reserved for Prometheus' own use (relabelling drops them), so the leading
// underscores are collapsed to one.
func promLabelName(key string) string {
	name := sanitiseIdentifier(key)
	if strings.HasPrefix(name, "__") {
		name = "_" + strings.TrimLeft(name, "_")
	}
	return name
}

// sanitiseIdentifier maps every byte outside [a-zA-Z0-9_] to an underscore
// (one per byte, so distinct inputs of equal length stay distinct more often
// than with collapsing) and prefixes an underscore when the first character
// is a digit.
func sanitiseIdentifier(s string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	b.Grow(len(s) + 1)
	if s[0] >= '0' && s[0] <= '9' {
		b.WriteByte('_')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
