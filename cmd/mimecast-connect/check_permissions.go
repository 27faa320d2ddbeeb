package main

import "github.com/mimecast-connect/mimecast-connect/internal/mimecast"

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

// endpointPermissions is internal/mimecast's table: the hint a component logs on a 403 and the
// one check prints are the same text.
var endpointPermissions = mimecast.Permissions()

// forbiddenHint tells an administrator what to grant for a refused endpoint.
func forbiddenHint(endpoint string) string { return mimecast.ForbiddenHint(endpoint) }
