package threats

import (
	"fmt"
	"slices"
	"strings"
)

// The values threat_types, statuses and threat_sources can match: what the feeds send or
// derive (see selectionTable). A value outside them would select nothing, silently.
var (
	knownThreatTypes = []string{"malware", "phishing", "spam", "suspicious", "unwanted", "url", "attachment", "impersonation", "policy", "internal"}
	knownStatuses    = []string{"blocked", "rejected", "delivered", "held", "bounced", "sandboxed", "allowed", "warned", "tagged", "detected", "released", "unknown"}
	knownSources     = []string{"email", "url", "url_protect", "attachment_protect", "impersonation_protect", "hold_queue", "release_log", "siem"}
)

// feedVocabulary is, per feed, the values each selection can match in its records (the table in
// the threat_types field doc); nil: any known value (the feed passes its own action through).
var feedVocabulary = map[string]struct{ threatTypes, statuses, sources []string }{
	feedThreatEvents:  {threatAPIAnalyses, threatAPIStatuses, threatAPISources},
	feedURLProtect:    {[]string{"url"}, nil, []string{"url_protect"}},
	feedAttachment:    {[]string{"malware", "attachment"}, []string{"blocked", "held", "delivered"}, []string{"attachment_protect"}},
	feedImpersonation: {[]string{"impersonation"}, nil, []string{"impersonation_protect"}},
	feedHeld:          {[]string{"spam", "policy"}, []string{"held", "released", "rejected"}, []string{"hold_queue", "release_log"}},
	feedSIEM:          {[]string{"malware", "attachment", "url", "impersonation", "spam", "internal"}, nil, []string{"siem"}},
}

// checkFeedsSelectable refuses a feed none of whose records can pass the selections: it would
// be polled for nothing, and a selection that matches no feed would stay silent forever.
func checkFeedsSelectable(feeds []string, threatTypes, statuses, sources []string) error {
	for _, feed := range feeds {
		v := feedVocabulary[feed]
		for _, sel := range []struct {
			field         string
			selected, can []string
		}{{tfThreatTypes, threatTypes, v.threatTypes}, {tfStatuses, statuses, v.statuses}, {tfThreatSources, sources, v.sources}} {
			if len(sel.selected) == 0 || sel.can == nil || slices.ContainsFunc(sel.selected, func(s string) bool { return slices.Contains(sel.can, s) }) {
				continue
			}
			return fmt.Errorf("%s: %s never passes %s [%s]: its records carry %s; remove %s from %s or add one of those values",
				tfFeeds, feed, sel.field, strings.Join(sel.selected, ", "), strings.Join(sel.can, ", "), feed, tfFeeds)
		}
	}
	return nil
}

// checkSelection returns an error naming field, the first unknown value of list (already
// lower-cased) and the nearest known one.
func checkSelection(field string, list, known []string) error {
	for i, v := range list {
		if slices.Contains(known, v) {
			continue
		}
		hint := ""
		if near := nearest(v, known); near != "" {
			hint = fmt.Sprintf(" (did you mean %s?)", near)
		}
		return fmt.Errorf("%s[%d]: %q matches nothing any feed sends%s: use values of %s", field, i, v, hint, strings.Join(known, ", "))
	}
	return nil
}

// nearest is the known value closest to v, by edit distance or as a prefix, when it is close
// enough to be a typo.
func nearest(v string, known []string) string {
	best, bestD := "", max(2, len(v)/3)+1
	for _, k := range known {
		d := editDistance(v, k)
		if strings.HasPrefix(k, v) && len(v) >= 3 {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
