package connection

// The Bloblang lint rules the Mimecast components put on their fields, so that
// `mimecast-connect lint` rejects a bad value before anything runs.

import "strings"

// LintOneOf rejects list entries outside allowed, naming the entry and the allowed values. Benthos
// runs a list field's rule on the list and on each element; only the element run reports, so a
// bad entry is named once.
func LintOneOf(allowed []string, what string) string {
	return `root = if this.type() != "array" && !["` + strings.Join(allowed, `","`) + `"].contains(this) { ["` +
		what + ` " + this.string() + ": use one of ` + strings.Join(allowed, ", ") + `"] }`
}

// LintPositiveDuration rejects a duration field that does not parse or is not above zero. It needs
// Bloblang's parse_duration, which public/components/pure registers (fields.go imports it), or
// the rule fails to parse at init.
func LintPositiveDuration(field string) string {
	return `root = if this.type() != "string" || this.parse_duration().catch(-1) <= 0 { ["` + field +
		` must be a positive duration such as 30s or 5m"] }`
}
