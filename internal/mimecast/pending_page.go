package mimecast

import (
	"context"
	"encoding/json"
)

// PendingPage is a page whose records are found but not yet decoded. Its Next is known as soon as
// the answer is in, so a reader can ask for the next page while this one is decoded: on a feed
// with a backlog the API's time to answer and the decoding then overlap instead of adding up.
type PendingPage[T any] struct {
	Next   string
	Total  int // as Page.Total
	elems  []json.RawMessage
	decode func([]json.RawMessage) []T
}

// Len is the number of records on the page.
func (p PendingPage[T]) Len() int { return len(p.elems) }

// Records decodes the page's records (see decodeAll); from any goroutine, as often as needed.
func (p PendingPage[T]) Records() []T {
	if p.decode == nil {
		return nil
	}
	return p.decode(p.elems)
}

// page decodes the whole page (an empty Page for the zero PendingPage of an error).
func (p PendingPage[T]) page() Page[T] {
	return Page[T]{Items: p.Records(), Next: p.Next, Total: p.Total}
}

// listPending is ListPage up to finding the records: the same errors and the same stop rule.
func listPending[T any, P recordPtr[T]](ctx context.Context, c *Client, path string, item any, token string, find listFinder) (PendingPage[T], error) {
	env, err := c.CallAPI(ctx, path, item, Pagination{PageSize: c.PageSize(), PageToken: token})
	if err != nil {
		return PendingPage[T]{}, err
	}
	elems, err := find(env.Data, dataIsValid)
	if err != nil {
		return PendingPage[T]{}, c.dataError(path, env, err)
	}
	return PendingPage[T]{Next: nextToken(env, token, len(elems)), Total: max(env.Meta.Pagination.TotalCount, 0), elems: elems, decode: decodeAll[T, P]}, nil
}

// URLClickLogsPending is URLClickLogsPage without decoding the records (see PendingPage).
func (c *Client) URLClickLogsPending(ctx context.Context, req URLLogsRequest, pageToken string) (PendingPage[URLClick], error) {
	return listPending[URLClick](ctx, c, PathURLLogs, req.item(), pageToken, urlClickList)
}

// AttachmentLogsPending is AttachmentLogsPage without decoding the records (see PendingPage).
func (c *Client) AttachmentLogsPending(ctx context.Context, req AttachmentLogsRequest, pageToken string) (PendingPage[AttachmentLog], error) {
	return listPending[AttachmentLog](ctx, c, PathAttachmentLogs, req.item(), pageToken, attachmentLogList)
}
