package main

import "strings"

// Endpoints check calls: the API paths the components use (internal/mimecast), named here
// again because the client keeps its paths unexported.
const (
	epThreatEvents      = "/threats/v1/events"
	epSIEMBatch         = "/siem/v1/batch/events/cg"
	epURLLogs           = "/api/ttp/url/get-logs"
	epAttachmentLogs    = "/api/ttp/attachment/get-logs"
	epImpersonationLogs = "/api/ttp/impersonation/get-logs"
	epHoldList          = "/api/gateway/get-hold-message-list"
	epHeldReleaseLogs   = "/api/gateway/get-held-release-logs"
	epMessageFinder     = "/api/message-finder/search"
	epMessageInfo       = "/api/message-finder/get-message-info"
	epInternalDomains   = "/api/domain/get-internal-domain"
	epInternalUsers     = "/api/user/get-internal-users"
	epArchiveSearch     = "/api/archive/search"
	epMessageDetail     = "/api/archive/get-message-detail"
	epMessagePart       = "/api/archive/get-message-part"
)

// permission is what a Mimecast administrator grants for one endpoint: the product of the API
// 2.0 application and the permission of its application role. The README's "Permissions"
// section shows the same table (a test keeps them in step).
type permission struct {
	Product string
	Role    string
	// Inferred is true when shared/mimecast-api.md does not name the product or permission for
	// this endpoint and the names follow from its neighbours; the hint then says so.
	Inferred bool
	// Source says where the names come from, for the README.
	Source string
}

const productThreatsCG = "Threats, Security Events and Data for CG"

var endpointPermissions = map[string]permission{
	epThreatEvents: {
		Product: productThreatsCG,
		Role:    "Security Events and Data Retrieval - Threat and security statistics - Read",
		Source:  "Synqly's Mimecast set-up guide (API notes §1.3)",
	},
	epSIEMBatch: {
		Product: productThreatsCG, Inferred: true,
		Role:   "Security Events and Data Retrieval - Threat and security statistics - Read",
		Source: "inferred: the notes name this product and permission for threat events only",
	},
	epURLLogs: {
		Product: "URL Protection", Role: "Monitoring | URL Protection | Read",
		Source: "permission: Mimecast API docs (notes §2.2.a); product: the account package",
	},
	epAttachmentLogs: {
		Product: "Attachment Protection", Role: "Monitoring | Attachment Protection | Read",
		Source: "permission: Mimecast API docs (notes §2.2.b); product: the account package",
	},
	epImpersonationLogs: {
		Product: "Impersonation Protection", Role: "Monitoring | Impersonation Protection | Read", Inferred: true,
		Source: "product: the account package; permission inferred from the URL and Attachment Protection logs",
	},
	epHoldList: {
		Product: "Cloud Gateway (held messages)", Role: "Account | Dashboard | Read",
		Source: "permission: Mimecast API docs (notes §2.3); product name inferred",
	},
	epHeldReleaseLogs: {
		Product: "Cloud Gateway (held messages)", Role: "Account | Dashboard | Read", Inferred: true,
		Source: "inferred from the hold list: the notes name no permission for the release log",
	},
	epMessageFinder: {
		Product: "Message Finder (Tracking)", Role: "Gateway | Tracking | Read",
		Source: "Mimecast API docs (notes §3.1)",
	},
	epMessageInfo: {
		Product: "Message Finder (Tracking)", Role: "Gateway | Tracking | Read",
		Source: "Mimecast API docs (notes §3.1)",
	},
	epInternalDomains: {
		Product: "Directory", Role: "Directories | Internal Directories | Read", Inferred: true,
		Source: "inferred: the notes name no permission for the directory",
	},
	epInternalUsers: {
		Product: "Directory", Role: "Directories | Internal Directories | Read", Inferred: true,
		Source: "inferred: the notes name no permission for the directory",
	},
	epArchiveSearch: {
		Product: "Archive", Role: "Archive | Search | Read",
		Source: "Mimecast API docs (notes §4.1, admin search)",
	},
	epMessageDetail: {
		Product: "Archive", Role: "Archive | Search Content View",
		Source: "Mimecast API docs (notes §4.3)",
	},
	epMessagePart: {
		Product: "Archive", Role: "Archive | Search Content View",
		Source: "Mimecast API docs (notes §4.3)",
	},
}

// forbiddenHint tells an administrator what to grant for a refused endpoint.
func forbiddenHint(endpoint string) string {
	p, ok := endpointPermissions[endpoint]
	if !ok {
		return "the API application lacks the product or role permission for this endpoint"
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
