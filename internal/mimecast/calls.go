package mimecast

// Call is one endpoint a component calls for one of its features. Components list the calls
// their config turns on, so that `mimecast-connect check` tests exactly those endpoints.
type Call struct {
	Feature  string
	Endpoint string
}

// CallsOf lists endpoints as calls made for feature.
func CallsOf(feature string, endpoints ...string) []Call {
	out := make([]Call, 0, len(endpoints))
	for _, ep := range endpoints {
		out = append(out, Call{Feature: feature, Endpoint: ep})
	}
	return out
}

// ArchivedContentEndpoints are the endpoints ArchivedContent calls: Message Finder, an archive
// search when the tracking id is not an archive id, the message's details and its body parts.
func ArchivedContentEndpoints() []string {
	return []string{PathMessageFinderSearch, PathArchiveSearch, PathMessageDetail, PathMessagePart}
}
