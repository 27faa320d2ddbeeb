package mimecast

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestForbiddenHintNamesProductAndRole(t *testing.T) {
	assert.Equal(t, "grant the API application the product URL Protection and the role permission Monitoring | URL Protection | Read",
		ForbiddenHint("/api/ttp/url/get-logs"))
	assert.Equal(t, "grant the API application the product Impersonation Protection and the role permission Monitoring | Impersonation Protection | Read (names inferred: see Permissions in the README)",
		ForbiddenHint("/api/ttp/impersonation/get-logs"))
	assert.Contains(t, ForbiddenHint("/api/unknown"), "/api/unknown")
}
