package main

import "github.com/mimecast-connect/mimecast-connect/internal/mimecast"

// endpointPermissions is internal/mimecast's table: the hint a component logs on a 403 and the
// one check prints are the same text.
var endpointPermissions = mimecast.Permissions()

// forbiddenHint tells an administrator what to grant for a refused endpoint.
func forbiddenHint(endpoint string) string { return mimecast.ForbiddenHint(endpoint) }
