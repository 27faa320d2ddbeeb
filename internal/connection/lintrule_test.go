package connection

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
)

func lintErrors(t *testing.T, spec *service.ConfigSpec, yaml string) []string {
	t.Helper()
	env := service.NewEnvironment()
	require.NoError(t, env.RegisterProcessor("lint_probe", spec, func(*service.ParsedConfig, *service.Resources) (service.Processor, error) {
		return nil, nil
	}))
	err := env.NewStreamBuilder().AddProcessorYAML("lint_probe:\n  " + yaml)
	if err == nil {
		return nil
	}
	return []string{err.Error()}
}

func TestOneOfNamesEachBadEntryOnce(t *testing.T) {
	spec := service.NewConfigSpec().Field(service.NewStringListField("feeds").LintRule(LintOneOf([]string{"a", "b"}, "unknown feed")))
	assert.Empty(t, lintErrors(t, spec, "feeds: [a, b]"))
	errs := lintErrors(t, spec, "feeds: [a, zed]")
	require.Len(t, errs, 1)
	assert.Equal(t, 1, countOf(errs[0], "unknown feed zed: use one of a, b"))
}

func TestPositiveDuration(t *testing.T) {
	spec := service.NewConfigSpec().Field(service.NewDurationField("every").LintRule(LintPositiveDuration("every")))
	assert.Empty(t, lintErrors(t, spec, "every: 5s"))
	for _, bad := range []string{"every: 0s", "every: -1m", "every: soon"} {
		errs := lintErrors(t, spec, bad)
		require.Len(t, errs, 1, bad)
		assert.Contains(t, errs[0], "every must be a positive duration")
	}
}

func countOf(s, sub string) int {
	n := 0
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			n++
		}
	}
	return n
}

// A retry_after_multiplier over 60 is refused by lint and at start-up with one message.
func TestRetryAfterMultiplierOver60IsRefusedAtLintAndStartUp(t *testing.T) {
	yaml := "api_url: http://127.0.0.1:9\nclient_id: x\nclient_secret: y\nretry_after_multiplier: 1000\n"
	lints := lintErrors(t, service.NewConfigSpec().Fields(Fields()...), "{client_id: x, client_secret: y, retry_after_multiplier: 1000}")
	require.Len(t, lints, 1)
	assert.Contains(t, lints[0], retryAfterMultiplierTooLarge)
	conf, err := service.NewConfigSpec().Fields(Fields()...).ParseYAML(yaml, nil)
	require.NoError(t, err)
	_, err = FromParsed(conf, service.MockResources(), "test_component")
	require.EqualError(t, err, retryAfterMultiplierTooLarge)
	for _, ok := range []string{"1", "1.5", "60"} {
		assert.Empty(t, lintErrors(t, service.NewConfigSpec().Fields(Fields()...), "{client_id: x, client_secret: y, retry_after_multiplier: "+ok+"}"), ok)
	}
}
