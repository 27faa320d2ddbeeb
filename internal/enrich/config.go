package enrich

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/connection"
)

// Lookups accepted in `lookups`.
const (
	lookupTracking    = "tracking"
	lookupMessageInfo = "message_info"
	lookupContent     = "content"
)

var allLookups = []string{lookupTracking, lookupMessageInfo, lookupContent}

// on_forbidden values.
const (
	onForbiddenSkip = "skip"
	onForbiddenFail = "fail"
)

const (
	efMessageID      = "message_id"
	efLookups        = "lookups"
	efSearchWindow   = "search_window"
	efTargetField    = "target_field"
	efCache          = "cache"
	efCacheTTL       = "cache_ttl"
	efMaxConcurrency = "max_concurrency"
	efOnForbidden    = "on_forbidden"
	efNegativeTTL    = "negative_cache_ttl"
	efRefusedTTL     = "refused_cache_ttl"
	efForbiddenK     = "forbidden_threshold"
)

// maxSearchWindow is Message Finder's documented reach (about 30 days, Mimecast's Message Tracking support article).
const maxSearchWindow = 30 * 24 * time.Hour

func enrichFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewInterpolatedStringField(efMessageID).
			Description("The email's Message-ID (the RFC 5322 header, with or without angle brackets). An event for which this is empty (or `null`, what a missing metadata key interpolates to) passes through untouched and is counted in `mimecast_enrich_no_message_id`. The default reads the metadata `mimecast_threats` sets.").
			Default(`${! meta("mimecast_message_id") }`).
			Example(`${! this.messageId }`).
			Example(`${! json("MsgId") }`),
		service.NewStringListField(efLookups).
			Description("What to look up: `tracking` (Message Finder search: where the message went and its status), `message_info` (get-message-info for each tracked hit: delivery per recipient, policies, spam verdict) and `content` (the archived headers and bodies; needs Archive | Search Content View). `tracking` and `message_info` need Gateway | Tracking | Read.").
			Default([]any{lookupTracking, lookupMessageInfo}).
			Example([]any{lookupTracking, lookupMessageInfo, lookupContent}).
			LintRule(connection.LintOneOf(allLookups, "unknown lookup")),
		service.NewDurationField(efSearchWindow).
			Description("How far back Message Finder looks for the message. 30 days (720h) is its documented limit.").
			Default("720h").
			LintRule(`root = if this.type() != "string" || this.parse_duration().catch(-1) <= 0 || this.parse_duration().catch(0) > 2592000000000000 { ["search_window must be a positive duration of at most 720h"] }`),
		service.NewStringField(efTargetField).
			Description("Where the result goes in the JSON body: a dot-separated path of object keys, created as needed. The body must be a JSON object.").
			Default("mimecast").
			Example("enrichment.mimecast"),
		service.NewStringField(efCache).
			Description("A cache resource for results, so that a burst of events about one message costs one lookup. Results with `found: false` are cached for `negative_cache_ttl`, results with a refused lookup for `refused_cache_ttl`, and results with a failed lookup not at all. Keys are `mimecast_enrich_` and a SHA-256 of the lookups and the message id, safe as file names.").
			Optional().
			Example("mimecast_lookups"),
		service.NewDurationField(efCacheTTL).
			Description("How long a cached result is used. Without it (or empty) the cache's own default applies. Keep it short enough for the status of held mail to stay current (a held message is released or rejected within hours).").
			Optional().
			Example("10m").
			LintRule(`root = if this.type() != "string" || (this != "" && this.parse_duration().catch(-1) <= 0) { ["cache_ttl must be a positive duration such as 10m"] }`),
		service.NewDurationField(efNegativeTTL).
			Description("How long a result with `found: false` is cached, shorter than `cache_ttl`: Message Finder's indexing and the archive's ingestion lag behind the alerts, so a message not found now may be found in a minute.").
			Default("1m").
			LintRule(`root = if this.type() != "string" || this.parse_duration().catch(-1) <= 0 { ["negative_cache_ttl must be a positive duration such as 1m"] }`),
		service.NewDurationField(efRefusedTTL).
			Description("How long a result with a refused lookup (see `on_forbidden`) is cached: short, as a refusal may be lifted (a legal hold released, a role widened), but long enough that a burst of events about one refused message costs one refusal.").
			Default("1m").
			LintRule(`root = if this.type() != "string" || this.parse_duration().catch(-1) <= 0 { ["refused_cache_ttl must be a positive duration such as 1m"] }`),
		service.NewIntField(efMaxConcurrency).
			Description("How many message ids of one batch are looked up at once. Lookups also wait for the client's quota pacing and the `rate_limit` resource.").
			Default(4).
			LintRule(`root = if this < 1 || this > 64 { ["max_concurrency must be between 1 and 64"] }`),
		service.NewStringAnnotatedEnumField(efOnForbidden, map[string]string{
			onForbiddenSkip: "Leave the refused lookup out of the result and name it in `refused` (when Message Finder itself is refused, every lookup is). `mimecast_enrich_forbidden` counts the events per lookup.",
			onForbiddenFail: "As skip, and also flag the events of that message with an error naming the permission, for `catch` or `try` to handle; the result with the other lookups stays on them.",
		}).
			Description("What to do when Mimecast answers 403 for a lookup of a message. A 403 is about that message first (content under a legal hold or a Smart Tag, or outside the application role's scope, is refused while others are read): the result keeps what the other lookups found and names the refused ones in `refused` (for example `[\"content\"]`), so that \"refused\" is told from \"not archived\". Only after `forbidden_threshold` distinct messages refused in a row, with no success in between, or at the first refusal when the call `check` makes about a made-up message (the permission probe) is refused too, is the lookup closed for every message (logged, and asked again after 5 minutes; any success reopens it).").
			Default(onForbiddenSkip),
		service.NewIntField(efForbiddenK).
			Description("How many distinct messages refused in a row, with no success in between, close a lookup for every message: the sign that the API application lacks the permission, not that one message is out of its reach.").
			Default(3).
			LintRule(`root = if this < 1 || this > 1000 { ["forbidden_threshold must be between 1 and 1000"] }`),
	}
}

// enrichConfig is the parsed configuration of mimecast_enrich.
type enrichConfig struct {
	conn         *connection.Conn
	messageID    *service.InterpolatedString
	lookups      lookupSet
	searchWindow time.Duration
	targetPath   []string
	cacheName    string
	cacheTTL     *time.Duration
	// negativeCacheTTL is how long a result with found: false is cached.
	negativeCacheTTL time.Duration
	// refusedCacheTTL is how long a result with a refused lookup is cached.
	refusedCacheTTL    time.Duration
	maxConcurrency     int
	onForbidden        string
	forbiddenThreshold int
}

// lookupSet is the parsed `lookups`.
type lookupSet struct{ tracking, messageInfo, content bool }

// search reports whether a Message Finder search is needed: message_info takes the search's ids.
func (l lookupSet) search() bool { return l.tracking || l.messageInfo }

// String lists the lookups in a fixed order; it is part of the cache key.
func (l lookupSet) String() string {
	var names []string
	for _, x := range []struct {
		on   bool
		name string
	}{{l.tracking, lookupTracking}, {l.messageInfo, lookupMessageInfo}, {l.content, lookupContent}} {
		if x.on {
			names = append(names, x.name)
		}
	}
	return strings.Join(names, ",")
}

// enrichConfigFromParsed parses the component's config as its constructor does. With mgr nil it only
// validates (for lint): no resource is looked up and no client is made.
func enrichConfigFromParsed(conf *service.ParsedConfig, mgr *service.Resources) (*enrichConfig, error) {
	c := &enrichConfig{}
	var err error
	if c.messageID, err = conf.FieldInterpolatedString(efMessageID); err != nil {
		return nil, err
	}
	names, err := conf.FieldStringList(efLookups)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: empty: name at least one of %s", efLookups, strings.Join(allLookups, ", "))
	}
	for _, n := range names {
		switch n {
		case lookupTracking:
			c.lookups.tracking = true
		case lookupMessageInfo:
			c.lookups.messageInfo = true
		case lookupContent:
			c.lookups.content = true
		default:
			return nil, fmt.Errorf("%s: unknown lookup %q: use any of %s", efLookups, n, strings.Join(allLookups, ", "))
		}
	}
	if c.searchWindow, err = conf.FieldDuration(efSearchWindow); err != nil {
		return nil, err
	}
	if c.searchWindow <= 0 || c.searchWindow > maxSearchWindow {
		return nil, fmt.Errorf("%s: %v is out of range: use a positive duration of at most 720h (Message Finder's limit)", efSearchWindow, c.searchWindow)
	}
	target, err := conf.FieldString(efTargetField)
	if err != nil {
		return nil, err
	}
	if c.targetPath, err = parseTargetPath(target); err != nil {
		return nil, err
	}
	if conf.Contains(efCache) {
		if c.cacheName, err = conf.FieldString(efCache); err != nil {
			return nil, err
		}
		if c.cacheName != "" && mgr != nil && !mgr.HasCache(c.cacheName) {
			return nil, fmt.Errorf("%s: cache resource %q is not defined: add it under cache_resources or pass its file with -r", efCache, c.cacheName)
		}
	}
	if raw, _ := conf.FieldString(efCacheTTL); conf.Contains(efCacheTTL) && raw != "" {
		ttl, err := conf.FieldDuration(efCacheTTL)
		if err != nil {
			return nil, err
		}
		if ttl <= 0 {
			return nil, fmt.Errorf("%s: %v is not positive: use a duration such as 10m", efCacheTTL, ttl)
		}
		if c.cacheName == "" {
			return nil, fmt.Errorf("%s is set without %s: name the cache resource to keep results in", efCacheTTL, efCache)
		}
		c.cacheTTL = &ttl
	}
	if c.maxConcurrency, err = conf.FieldInt(efMaxConcurrency); err != nil {
		return nil, err
	}
	if c.maxConcurrency < 1 || c.maxConcurrency > 64 {
		return nil, fmt.Errorf("%s: %d is out of range: use 1 to 64", efMaxConcurrency, c.maxConcurrency)
	}
	if c.onForbidden, err = conf.FieldString(efOnForbidden); err != nil {
		return nil, err
	}
	if !slices.Contains([]string{onForbiddenSkip, onForbiddenFail}, c.onForbidden) {
		return nil, fmt.Errorf("%s: %q: use skip or fail", efOnForbidden, c.onForbidden)
	}
	if c.negativeCacheTTL, err = conf.FieldDuration(efNegativeTTL); err != nil {
		return nil, err
	}
	if c.negativeCacheTTL <= 0 {
		return nil, fmt.Errorf("%s: %v is not positive: use a duration such as 1m", efNegativeTTL, c.negativeCacheTTL)
	}
	if c.refusedCacheTTL, err = conf.FieldDuration(efRefusedTTL); err != nil {
		return nil, err
	}
	if c.refusedCacheTTL <= 0 {
		return nil, fmt.Errorf("%s: %v is not positive: use a duration such as 1m", efRefusedTTL, c.refusedCacheTTL)
	}
	if c.forbiddenThreshold, err = conf.FieldInt(efForbiddenK); err != nil {
		return nil, err
	}
	if c.forbiddenThreshold < 1 || c.forbiddenThreshold > 1000 {
		return nil, fmt.Errorf("%s: %d is out of range: use 1 to 1000", efForbiddenK, c.forbiddenThreshold)
	}
	// Last, so that a config error above does not leave a client handle open.
	if mgr == nil {
		return c, connection.Validate(conf)
	}
	if c.conn, err = connection.FromParsed(conf, mgr, Name); err != nil {
		return nil, err
	}
	return c, nil
}

// parseTargetPath splits target_field on dots; every segment must be a non-empty key.
func parseTargetPath(target string) ([]string, error) {
	path := strings.Split(target, ".")
	for _, seg := range path {
		if strings.TrimSpace(seg) == "" {
			return nil, fmt.Errorf("%s: %q has an empty segment: use object keys separated by dots, such as mimecast or enrichment.mimecast", efTargetField, target)
		}
	}
	return path, nil
}
