package mimecastfake

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInternalDomainsIsAFlatListShapedLikeTheCapture(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1, Sizes: Sizes{Domains: 3, LocalDomains: 1}})
	env := h.api("/api/domain/get-internal-domain", map[string]any{"data": []any{}})
	assert.Empty(t, env["fail"])
	data := env["data"].([]any)
	require.Len(t, data, 3)
	locals := 0
	for _, d := range data {
		dom := d.(map[string]any)
		assert.ElementsMatch(t, []string{"id", "domain", "sendOnly", "local", "inboundType"}, keysOf(dom))
		assert.IsType(t, "", dom["id"])
		assert.Equal(t, false, dom["sendOnly"])
		assert.Equal(t, "known", dom["inboundType"])
		if dom["local"] == true {
			locals++
		}
	}
	assert.Equal(t, 1, locals)
}

func TestInternalUsersPageThroughEveryUserOnce(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1, Sizes: Sizes{Domains: 2, UsersPerDomain: 5}})
	seen := map[string]int{}
	token, pages := "", 0
	for {
		env := h.api("/api/user/get-internal-users", pageReq(nil, 3, token))
		pages++
		data := env["data"].([]any)
		require.Len(t, data, 1)
		wrap := data[0].(map[string]any)
		assert.EqualValues(t, 10, wrap["userCount"])
		users := wrap["users"].([]any)
		pag := env["meta"].(map[string]any)["pagination"].(map[string]any)
		assert.EqualValues(t, len(users), pag["pageSize"], "pageSize echoes the count returned")
		assert.EqualValues(t, 10, pag["totalCount"])
		for _, u := range users {
			um := u.(map[string]any)
			assert.ElementsMatch(t, []string{"name", "emailAddress", "domain", "alias", "addressType", "source"}, keysOf(um))
			assert.Contains(t, []string{"created_manually", "created_by_email"}, um["addressType"])
			seen[um["emailAddress"].(string)]++
		}
		if token = nextToken(env); token == "" {
			break
		}
	}
	assert.Equal(t, 4, pages)
	assert.Len(t, seen, 10)
	for email, n := range seen {
		assert.Equal(t, 1, n, email)
	}
}

func TestInternalUsersFilterByDomain(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1, Sizes: Sizes{Domains: 3, UsersPerDomain: 4}})
	dom := h.srv.tenant.domains[1].Name
	env := h.api("/api/user/get-internal-users", pageReq(map[string]any{"domain": dom}, 100, ""))
	users := env["data"].([]any)[0].(map[string]any)["users"].([]any)
	require.Len(t, users, 4)
	for _, u := range users {
		assert.Equal(t, dom, u.(map[string]any)["domain"])
	}
	assert.Empty(t, nextToken(env))
}

func TestInternalUsersRefuseAForeignPageToken(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1})
	env := h.api("/api/user/get-internal-users", pageReq(nil, 2, "not-a-token"))
	assert.Equal(t, errCodePageToken, failCode(t, env))
}

func TestRemovedUserDoesNotShiftTheNextPage(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1, Sizes: Sizes{Domains: 1, UsersPerDomain: 6}})
	first := h.api("/api/user/get-internal-users", pageReq(nil, 3, ""))
	users := first["data"].([]any)[0].(map[string]any)["users"].([]any)
	require.True(t, h.srv.RemoveMailbox(users[0].(map[string]any)["emailAddress"].(string)))

	second := h.api("/api/user/get-internal-users", pageReq(nil, 3, nextToken(first)))
	rest := second["data"].([]any)[0].(map[string]any)["users"].([]any)
	assert.Len(t, rest, 3, "removing a user already served must not skip an unserved one")
	assert.EqualValues(t, 5, second["data"].([]any)[0].(map[string]any)["userCount"])
}

func TestDuplicateAcrossPagesRepeatsTheLastUser(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1, Sizes: Sizes{Domains: 1, UsersPerDomain: 6}})
	first := h.api("/api/user/get-internal-users", pageReq(nil, 3, ""))
	users := first["data"].([]any)[0].(map[string]any)["users"].([]any)
	h.srv.SetFaults(Faults{DuplicateAcrossPages: 1})
	second := h.api("/api/user/get-internal-users", pageReq(nil, 3, nextToken(first)))
	rest := second["data"].([]any)[0].(map[string]any)["users"].([]any)
	require.Len(t, rest, 4)
	assert.Equal(t, users[2], rest[0])
}

func TestAccountNamesTheTenant(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1, Sizes: Sizes{Domains: 2, UsersPerDomain: 3}})
	env := h.api("/api/account/get-account", map[string]any{"data": []any{}})
	acct := env["data"].([]any)[0].(map[string]any)
	assert.Equal(t, h.srv.accountCode(), acct["accountCode"])
	assert.EqualValues(t, 6, acct["userCount"])
	assert.NotEmpty(t, acct["packages"])
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
