package mimecast

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// Directory and account endpoints (Mimecast API docs; shapes as recorded from a real tenant): what the archive crawler walks, and the
// cheapest authenticated call there is for a connectivity check.

const (
	PathInternalDomains = "/api/domain/get-internal-domain"
	PathInternalUsers   = "/api/user/get-internal-users"
	PathAccount         = "/api/account/get-account"
)

// InternalDomain is one of the account's internal domains (flat data list).
type InternalDomain struct {
	RawRecord
	MimecastID  string `json:"id"`
	Domain      string `json:"domain"`
	SendOnly    bool   `json:"sendOnly"`
	Local       bool   `json:"local"`
	InboundType string `json:"inboundType"`
}

func (d *InternalDomain) normalize() { d.Domain = strings.ToLower(d.Domain) }

// ID is the domain's id, or the content hash.
func (d InternalDomain) ID() string { return d.idOrHash(d.MimecastID) }

// EventTime is zero: a domain is not an event.
func (d InternalDomain) EventTime() time.Time { return time.Time{} }

// MessageID is empty.
func (d InternalDomain) MessageID() string { return "" }

// InternalDomainsPage returns one page of internal domains (usually all of them).
func (c *Client) InternalDomainsPage(ctx context.Context, pageToken string) (Page[InternalDomain], error) {
	return ListPage(ctx, c, PathInternalDomains, nil, pageToken, decodeInternalDomains)
}

var decodeInternalDomains = recordDecoder[InternalDomain](flatList)

// InternalUsersRequest selects the users of one domain; an empty Domain lists every user.
type InternalUsersRequest struct {
	Domain string
	Query  string
}

func (r InternalUsersRequest) item() any {
	if r.Domain == "" && r.Query == "" {
		return nil
	}
	return struct {
		Domain string `json:"domain,omitempty"`
		Query  string `json:"query,omitempty"`
	}{r.Domain, r.Query}
}

// InternalUser is one internal user or alias (data[0].users[]).
type InternalUser struct {
	RawRecord
	Name         string `json:"name"`
	EmailAddress string `json:"emailAddress"`
	Domain       string `json:"domain"`
	Alias        bool   `json:"alias"`
	AddressType  string `json:"addressType"` // created_manually | created_by_email | ...
	Source       string `json:"source"`      // cloud | ldap | ...
}

// ID is the lower-cased email address: users have no id, and the address is what identifies a
// mailbox everywhere else in the API.
func (u InternalUser) ID() string {
	if u.EmailAddress == "" || u.Err != nil {
		return u.idOrHash("")
	}
	return strings.ToLower(u.EmailAddress)
}

// EventTime is zero: a user is not an event.
func (u InternalUser) EventTime() time.Time { return time.Time{} }

// MessageID is empty.
func (u InternalUser) MessageID() string { return "" }

// UsersPage is a page of internal users with the userCount Mimecast puts next to the list.
type UsersPage struct {
	Page[InternalUser]
	UserCount int
}

// InternalUsersPage returns one page of internal users.
func (c *Client) InternalUsersPage(ctx context.Context, req InternalUsersRequest, pageToken string) (UsersPage, error) {
	var count int
	p, err := ListPage(ctx, c, PathInternalUsers, req.item(), pageToken, func(data json.RawMessage, known bool) ([]InternalUser, error) {
		count = wrapperInt(data, known, "userCount")
		return decodeInternalUsers(data, known)
	})
	if err != nil {
		return UsersPage{}, err
	}
	return UsersPage{Page: p, UserCount: count}, nil
}

var decodeInternalUsers = recordDecoder[InternalUser](inWrapper("users"))

// Account is the API application's account (data[0] of get-account).
type Account struct {
	RawRecord
	AccountCode  string   `json:"accountCode"`
	AccountName  string   `json:"accountName"`
	Region       string   `json:"region"`
	Gateway      bool     `json:"gateway"`
	Archive      bool     `json:"archive"`
	MimecastID   string   `json:"mimecastId"`
	SupportCode  string   `json:"supportCode"`
	MaxRetention int      `json:"maxRetention"`
	UserCount    int      `json:"userCount"`
	Packages     []string `json:"packages"`
	AdminEmail   string   `json:"adminEmail"`
	ContactEmail string   `json:"contactEmail"`
	Type         string   `json:"type"`
	DatabaseCode string   `json:"databaseCode"`
}

// HasPackage reports whether the account has a product package whose name contains name
// (case-insensitively), e.g. "URL Protection" matches "URL Protection (Site) [1043]".
func (a Account) HasPackage(name string) bool {
	name = strings.ToLower(name)
	for _, p := range a.Packages {
		if strings.Contains(strings.ToLower(p), name) {
			return true
		}
	}
	return false
}

// GetAccount calls /api/account/get-account: the cheapest authenticated call, used as a
// connectivity and credentials check.
func (c *Client) GetAccount(ctx context.Context) (*Account, error) {
	return fetchObject[Account](ctx, c, PathAccount, nil)
}
