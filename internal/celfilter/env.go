package celfilter

import (
	"encoding/json"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
)

// Variable names a filter expression can reference. The environment declares
// exactly these and nothing else, so a typo is a compile error rather than a
// filter that silently never matches.
const (
	varEvent      = "event"
	varFeed       = "feed"
	varThreatType = "threat_type"
	varStatus     = "status"
	varSource     = "source"
	varMessageID  = "message_id"
	varEventTime  = "event_time"
)

// topLevelNames are the variables besides event, for hints.
var topLevelNames = []string{varFeed, varThreatType, varStatus, varSource, varMessageID, varEventTime}

// stringsLibVersion pins the ext strings library so an upgrade of cel-go cannot
// change which functions filters may call; version 5 is the first with cost
// estimates for every function, which the cost limit depends on.
const stringsLibVersion = 5

// baseEnv is built once: it depends on nothing configurable (the cost limit is
// a program option), and cel.Env is immutable and safe for concurrent use.
var baseEnv = sync.OnceValues(newEnv)

// newEnv declares the filter language. CEL has no functions that touch files,
// the network, the clock or the process environment, and none are added here,
// so a filter can only read the variables it is given.
func newEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.CustomTypeAdapter(eventValues),
		cel.Variable(varEvent, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(varFeed, cel.StringType),
		cel.Variable(varThreatType, cel.StringType),
		cel.Variable(varStatus, cel.StringType),
		cel.Variable(varSource, cel.StringType),
		cel.Variable(varMessageID, cel.StringType),
		cel.Variable(varEventTime, cel.TimestampType),
		// event.?field.orValue("") lets users guard optional fields without
		// a has() check per field.
		cel.OptionalTypes(),
		// Records are JSON, so numbers arrive as doubles; this lets
		// `event.score > 5` type-check and compare as users expect.
		cel.CrossTypeNumericComparisons(true),
		// Timestamp accessors (getHours etc.) default to UTC, not the host's zone.
		cel.DefaultUTCTimeZone(true),
		ext.Strings(ext.StringsVersion(stringsLibVersion)),
	)
}

// eventAdapter converts event values to CEL values. It exists because Benthos
// decodes structured messages with json.Decoder.UseNumber: the default adapter
// would turn a json.Number into a CEL string, so `event.score > 5` would fail
// with "no such overload". Maps and lists are wrapped with this adapter (not the
// default one) so numbers nested at any depth are converted too. Conversion is
// lazy, per accessed value, so no per-event walk of the record is needed.
type eventAdapter struct {
	base types.Adapter
}

// eventValues is the one adapter; a pointer, so passing it on as a
// types.Adapter for every wrapped map or list does not allocate.
var eventValues = &eventAdapter{base: types.DefaultTypeAdapter}

func (a *eventAdapter) NativeToValue(value any) ref.Val {
	switch v := value.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return types.Int(i)
		}
		if f, err := v.Float64(); err == nil {
			return types.Double(f)
		}
		return types.String(v)
	case map[string]any:
		return types.NewStringInterfaceMap(a, v)
	case []any:
		return types.NewDynamicList(a, v)
	}
	return a.base.NativeToValue(value)
}
