package mimecast

import (
	"net/url"
	"strconv"
	"time"
)

// restQuery is what the REST-style list endpoints (/threats/v1/events, /siem/v1/...) share: a time
// range under the endpoint's own parameter names and layout, pageSize, and nextPage. Zero times
// and empty values are left out.
type restQuery struct {
	startKey, endKey string
	layout           string
}

func (k restQuery) values(start, end time.Time, pageSize int, pageToken string) url.Values {
	q := url.Values{}
	if !start.IsZero() {
		q.Set(k.startKey, start.UTC().Format(k.layout))
	}
	if !end.IsZero() {
		q.Set(k.endKey, end.UTC().Format(k.layout))
	}
	if pageSize > 0 {
		q.Set("pageSize", strconv.Itoa(pageSize))
	}
	if pageToken != "" {
		q.Set("nextPage", pageToken)
	}
	return q
}
