package mimecastfake

import (
	"net/http"
	"strings"
)

func (s *Server) routesDirectory() {
	s.handleAPI("/api/domain/get-internal-domain", ProductDirectory, s.internalDomains)
	s.handleAPI("/api/user/get-internal-users", ProductDirectory, s.internalUsers)
	s.handleAPI("/api/account/get-account", ProductAccount, s.account)
}

// usersDefaultPageSize is get-internal-users' page size when none is asked for (the j1
// capture shows clients asking for 100).
const usersDefaultPageSize = 100

type internalDomain struct {
	ID          string `json:"id"`
	Domain      string `json:"domain"`
	SendOnly    bool   `json:"sendOnly"`
	Local       bool   `json:"local"`
	InboundType string `json:"inboundType"`
}

// internalDomains serves POST /api/domain/get-internal-domain: a flat data list (
// real capture).
func (s *Server) internalDomains(w http.ResponseWriter, r *http.Request, req *apiRequest) {
	out := make([]internalDomain, 0, len(s.tenant.domains))
	for _, d := range s.tenant.domains {
		out = append(out, internalDomain{ID: d.ID, Domain: d.Name, Local: d.Local, InboundType: "known"})
	}
	writeEnvelope(w, out, nil)
}

type internalUser struct {
	Name         string `json:"name"`
	EmailAddress string `json:"emailAddress"`
	Domain       string `json:"domain"`
	Alias        bool   `json:"alias"`
	AddressType  string `json:"addressType"`
	Source       string `json:"source"`
}

// internalUsers serves POST /api/user/get-internal-users: optional data[0].domain filter;
// data[0] = {users[], userCount}; pagination.pageSize echoes the count returned (as recorded from a real tenant).
// The next token holds the next mailbox index, so removing a user between pages neither skips
// nor repeats anyone else.
func (s *Server) internalUsers(w http.ResponseWriter, r *http.Request, req *apiRequest) {
	var filter struct {
		Domain string `json:"domain"`
	}
	raw, ok := decodeItem(w, req, &filter)
	if !ok {
		return
	}
	start, prev := 0, -1
	tok := req.Meta.Pagination.PageToken
	if tok != "" {
		v, ok := unpackInts('U', tok, 2)
		if !ok {
			writeFieldFail(w, raw, errCodePageToken, "pageToken", "The page token is invalid")
			return
		}
		start, prev = v[0], v[1]
	}
	size, err := parsePageSize(req.Meta.Pagination.PageSize, usersDefaultPageSize, maxPageSize)
	if err != nil {
		writeFieldFail(w, raw, errCodeInvalidValue, "pageSize", err.Error())
		return
	}

	s.archive.mu.RLock()
	var all []int
	for _, m := range s.activeMailboxesLocked() {
		if filter.Domain == "" || strings.EqualFold(s.mailboxUserLocked(m).Domain, filter.Domain) {
			all = append(all, m)
		}
	}
	var page []int
	if tok != "" && prev >= 0 && s.mailboxActiveLocked(prev) && s.duplicateAcrossPages() {
		page = append(page, prev) // the repeat does not take a slot of the page, as in paging.go
	}
	next, served := "", 0
	for i, m := range all {
		if m < start {
			continue
		}
		page = append(page, m)
		if served++; served >= size && i+1 < len(all) {
			next = packInts('U', all[i+1], m)
			break
		}
	}
	users := make([]internalUser, 0, len(page))
	for _, m := range page {
		u := s.mailboxUserLocked(m)
		users = append(users, s.internalUser(m, u))
	}
	s.archive.mu.RUnlock()

	writeEnvelope(w, []any{map[string]any{"users": users, "userCount": len(all)}},
		&respPagination{PageSize: len(users), TotalCount: len(all), Next: next})
}

func (s *Server) internalUser(m int, u user) internalUser {
	iu := internalUser{Name: u.Name, EmailAddress: u.Email, Domain: u.Domain, AddressType: "created_manually", Source: "cloud"}
	if detHash(s.opts.Seed, kindMsg, m, -1, 0)%3 == 0 {
		iu.AddressType, iu.Source = "created_by_email", "ldap"
	}
	return iu
}

// account serves POST /api/account/get-account (as recorded from a real tenant), useful as a
// credentials check.
func (s *Server) account(w http.ResponseWriter, r *http.Request, req *apiRequest) {
	s.archive.mu.RLock()
	users := len(s.activeMailboxesLocked())
	s.archive.mu.RUnlock()
	admin := "admin@" + s.tenant.domains[0].Name
	writeEnvelope(w, []any{map[string]any{
		"accountCode":  s.accountCode(),
		"accountName":  "Fake Mimecast Tenant",
		"region":       "us",
		"gateway":      true,
		"archive":      true,
		"mimecastId":   "01-0101-00001",
		"supportCode":  "FAKE",
		"maxRetention": 3650,
		"userCount":    users,
		"packages": []string{"URL Protection (Site) [1043]", "Attachment Protection (Site) [1057]",
			"Impersonation Protection [1060]", "Threat Remediation [1075]", "Mimecast Archive [1001]"},
		"adminEmail":   admin,
		"contactEmail": admin,
		"type":         "full",
	}}, nil)
}
