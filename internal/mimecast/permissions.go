package mimecast

import "strings"

// Permission is what a Mimecast administrator grants so that an endpoint answers: a product of
// the API 2.0 application and a permission of its application role. The names follow the API
// notes (shared/mimecast-api.md); Inferred ones are not confirmed for that endpoint and follow
// from its neighbours. The README's permission table and `mimecast-connect check` show the
// same names (a test in cmd/mimecast-connect keeps them in step).
type Permission struct {
	Product  string
	Role     string
	Inferred bool
}

const productThreatsCG = "Threats, Security Events and Data for CG"

var endpointPermissions = map[string]Permission{
	pathThreatEvents:        {Product: productThreatsCG, Role: "Security Events and Data Retrieval - Threat and security statistics - Read"},
	pathSIEMBatch:           {Product: productThreatsCG, Role: "Security Events and Data Retrieval - Threat and security statistics - Read", Inferred: true},
	pathURLLogs:             {Product: "URL Protection", Role: "Monitoring | URL Protection | Read"},
	pathAttachmentLogs:      {Product: "Attachment Protection", Role: "Monitoring | Attachment Protection | Read"},
	pathImpersonationLogs:   {Product: "Impersonation Protection", Role: "Monitoring | Impersonation Protection | Read", Inferred: true},
	pathHoldMessageList:     {Product: "Cloud Gateway (held messages)", Role: "Account | Dashboard | Read"},
	pathHeldReleaseLogs:     {Product: "Cloud Gateway (held messages)", Role: "Account | Dashboard | Read", Inferred: true},
	pathMessageFinderSearch: {Product: "Message Finder (Tracking)", Role: "Gateway | Tracking | Read"},
	pathMessageInfo:         {Product: "Message Finder (Tracking)", Role: "Gateway | Tracking | Read"},
	pathInternalDomains:     {Product: "Directory", Role: "Directories | Internal Directories | Read", Inferred: true},
	pathInternalUsers:       {Product: "Directory", Role: "Directories | Internal Directories | Read", Inferred: true},
	pathArchiveSearch:       {Product: "Archive", Role: "Archive | Search | Read"},
	pathMessageDetail:       {Product: "Archive", Role: "Archive | Search Content View"},
	pathMessagePart:         {Product: "Archive", Role: "Archive | Search Content View"},
}

// PermissionFor returns what endpoint (a request path such as /api/ttp/url/get-logs) needs.
func PermissionFor(endpoint string) (Permission, bool) {
	p, ok := endpointPermissions[endpoint]
	return p, ok
}

// ForbiddenHint tells an administrator what to grant when endpoint answered 403.
func ForbiddenHint(endpoint string) string {
	p, ok := endpointPermissions[endpoint]
	if !ok {
		return "grant the API application the product and role permission for " + endpoint + " (see the README's permission table)"
	}
	var b strings.Builder
	b.WriteString("grant the API application the product ")
	b.WriteString(p.Product)
	b.WriteString(" and the role permission ")
	b.WriteString(p.Role)
	if p.Inferred {
		b.WriteString(" (names inferred: see Permissions in the README)")
	}
	return b.String()
}
