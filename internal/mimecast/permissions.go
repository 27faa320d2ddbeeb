package mimecast

import (
	"maps"
	"strings"
)

// Permission is what a Mimecast administrator grants so that an endpoint answers: a product of
// the API 2.0 application and a permission of its application role. The names come from Mimecast's
// API documentation and integrators' set-up guides; Inferred ones are not confirmed for that endpoint and follow
// from its neighbours. The README's permission table and `mimecast-connect check` show the
// same names (a test in cmd/mimecast-connect keeps them in step).
type Permission struct {
	Product  string
	Role     string
	Inferred bool
	// Source says where the names come from, for the README.
	Source string
}

const productThreatsCG = "Threats, Security Events and Data for CG"

var endpointPermissions = map[string]Permission{
	PathThreatEvents:        {Product: productThreatsCG, Role: "Security Events and Data Retrieval - Threat and security statistics - Read", Source: "Synqly's Mimecast set-up guide"},
	PathSIEMBatch:           {Product: productThreatsCG, Role: "Security Events and Data Retrieval - Threat and security statistics - Read", Inferred: true, Source: "inferred: the set-up guide names this product and permission for threat events only"},
	PathURLLogs:             {Product: "URL Protection", Role: "Monitoring | URL Protection | Read", Source: "permission: Mimecast API docs; product: the account package"},
	PathAttachmentLogs:      {Product: "Attachment Protection", Role: "Monitoring | Attachment Protection | Read", Source: "permission: Mimecast API docs; product: the account package"},
	PathImpersonationLogs:   {Product: "Impersonation Protection", Role: "Monitoring | Impersonation Protection | Read", Inferred: true, Source: "product: the account package; permission inferred from the URL and Attachment Protection logs"},
	PathHoldMessageList:     {Product: "Cloud Gateway (held messages)", Role: "Account | Dashboard | Read", Source: "permission: Mimecast API docs; product name inferred"},
	PathHeldReleaseLogs:     {Product: "Cloud Gateway (held messages)", Role: "Account | Dashboard | Read", Inferred: true, Source: "inferred from the hold list: no public source names a permission for the release log"},
	PathMessageFinderSearch: {Product: "Message Finder (Tracking)", Role: "Gateway | Tracking | Read", Source: "Mimecast API docs"},
	PathMessageInfo:         {Product: "Message Finder (Tracking)", Role: "Gateway | Tracking | Read", Source: "Mimecast API docs"},
	PathInternalDomains:     {Product: "Directory", Role: "Directories | Internal Directories | Read", Inferred: true, Source: "inferred: no public source names a permission for the directory"},
	PathInternalUsers:       {Product: "Directory", Role: "Directories | Internal Directories | Read", Inferred: true, Source: "inferred: no public source names a permission for the directory"},
	PathArchiveSearch:       {Product: "Archive", Role: "Archive | Search | Read", Source: "Mimecast API docs (admin search)"},
	PathMessageDetail:       {Product: "Archive", Role: "Archive | Search Content View", Source: "Mimecast API docs"},
	PathMessagePart:         {Product: "Archive", Role: "Archive | Search Content View", Source: "Mimecast API docs"},
}

// Permissions returns the whole table, keyed by endpoint path.
func Permissions() map[string]Permission { return maps.Clone(endpointPermissions) }

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
