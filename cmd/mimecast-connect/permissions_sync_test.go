package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// The components name the permission of a refused endpoint from internal/mimecast's table; check
// and the README use this package's. They must say the same.
func TestCheckPermissionTableMatchesTheComponents(t *testing.T) {
	for ep, p := range endpointPermissions {
		got, ok := mimecast.PermissionFor(ep)
		require.True(t, ok, "internal/mimecast has no permission for %s", ep)
		assert.Equal(t, p.Product, got.Product, ep)
		assert.Equal(t, p.Role, got.Role, ep)
		assert.Equal(t, p.Inferred, got.Inferred, ep)
		assert.Equal(t, forbiddenHint(ep), mimecast.ForbiddenHint(ep), ep)
	}
}
