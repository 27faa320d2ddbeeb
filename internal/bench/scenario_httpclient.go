package bench

import (
	"context"
	"fmt"
)

// httpClientYAML is what a user would build without mimecast-connect: the stock http_client
// input with its oauth2 block (client credentials), POSTing the /api/* envelope. Its payload is
// a Bloblang interpolation over the previous response, which is how v4.60.0's http_client
// paginates: the next request carries the page token of the last answer. Two things a user
// cannot express this way are written into the benchmark instead:
//   - `from` must be a constant: an interpolated time (timestamp_unix() - N) changes between
//     requests, so the API rejects the page token as belonging to another request.
//   - the end of the crawl: after the last page the token is empty and the next request starts
//     from the first page again, forever. The benchmark stops when the backlog was delivered.
const httpClientYAML = `http_client:
  url: %[1]s/api/ttp/url/get-logs
  verb: POST
  headers:
    Content-Type: application/json
    Accept: application/json
  payload: '${! {"meta": {"pagination": {"pageSize": %[2]d, "pageToken": this.meta.pagination.next.or("")}}, "data": [{"from": "%[3]s", "oldestFirst": true}]}.format_json(no_indent: true) }'
  oauth2:
    enabled: true
    client_key: %[4]s
    client_secret: %[5]s
    token_url: %[1]s/oauth/token
`

// httpClientProcessors split a page into its click records, one message each, as
// mimecast_threats emits them.
var httpClientProcessors = []string{
	`mapping: 'root = this.data.index(0).clickLogs.or([])'`,
	`unarchive:
  format: json_array`,
}

func runURLHTTPClient(ctx context.Context, e *env) error {
	return drainHTTPClient(ctx, e, int64(e.plan.URLEvents))
}

func runLatencyHTTPClient(ctx context.Context, e *env) error {
	return drainHTTPClient(ctx, e, int64(e.plan.LatencyEvents))
}

// drainHTTPClient runs the stock pipeline until expected clicks arrived at the output.
func drainHTTPClient(ctx context.Context, e *env, expected int64) error {
	from := e.anchor.Add(-lookback).UTC().Format("2006-01-02T15:04:05-0700")
	spec := pipelineSpec{
		input:      fmt.Sprintf(httpClientYAML, e.fake.URL, apiPageSize, from, fakeClientID, fakeClientSecret),
		processors: httpClientProcessors,
	}
	out := newCounter(expected, nil)
	start := e.begin()
	p, err := startPipeline(spec, out.consume)
	if err != nil {
		return err
	}
	defer p.stop()
	werr := out.wait(ctx, drainQuiet, p.ended)
	e.endCountedAtReach(start, "stock http_client", out, expected)
	e.res.FeedEvents = map[string]int64{"url_protect": out.total.Load()}
	if err := e.snapshotFake(ctx); err != nil {
		return err
	}
	return werr
}
