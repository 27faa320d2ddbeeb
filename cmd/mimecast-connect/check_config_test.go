package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestResolveEnvVarsFollowsRunsRules(t *testing.T) {
	t.Parallel()
	env := envOf(map[string]string{"SET": "value", "EMPTY": "", "B64": "aGVsbG8=", "MULTI": "a\nb"})
	for _, tc := range []struct {
		in, want string
		unset    []string
	}{
		{in: "x: ${SET}", want: "x: value"},
		{in: "x: ${SET:default}", want: "x: value"},
		{in: "x: ${UNSET:default}", want: "x: default"},
		{in: "x: ${EMPTY:default}", want: "x: default", unset: nil},
		{in: "x: ${EMPTY}", want: "x: "},
		{in: "x: ${UNSET:}", want: "x: "},
		{in: "x: ${UNSET}", want: "x: ", unset: []string{"UNSET"}},
		{in: "x: ${B64|base64decode}", want: "x: hello"},
		{in: "x: ${UNSET:aGk=|base64decode}", want: "x: hi"},
		{in: "x: ${MULTI}", want: `x: a\nb`},
		{in: "x: ${{SET}}", want: "x: ${SET}"},
		{in: `x: ${! meta("k") }`, want: `x: ${! meta("k") }`},
		{in: "x: ${UNSET:${SET}}", want: "x: ${SET}"},
	} {
		got, unset, err := resolveEnvVars([]byte(tc.in), env)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, string(got), tc.in)
		assert.Equal(t, tc.unset, unset, tc.in)
	}
	_, _, err := resolveEnvVars([]byte("x: ${SET|rot13}"), env)
	assert.ErrorContains(t, err, `unknown env var decode function "rot13"`)
}

func TestFindComponentsWalksEveryPlaceAComponentCanSit(t *testing.T) {
	t.Parallel()
	var root yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(`
base: &conn
  api_url: http://a
  client_id: id
  client_secret: shared-secret
input:
  broker:
    inputs:
      - mimecast_threats:
          <<: *conn
          feeds: [siem]
        processors:
          - mimecast_enrich: {}
      - label: crawl
        mimecast_archive:
pipeline:
  processors:
    - switch:
        - check: 'this.a == 1'
          processors:
            - try:
                - mimecast_enrich: *conn
    - workflow:
        branches:
          lookup:
            processors:
              - label: wf
                mimecast_enrich: {lookups: [content]}
output:
  switch:
    cases:
      - output:
          drop: {}
          processors:
            - catch:
                - mimecast_enrich: {}
processor_resources:
  - label: res
    mimecast_enrich: {}
tests:
  - name: t
    mocks:
      res:
        mimecast_enrich: {}
`), &root))

	found := findComponents(configFile{name: "p.yaml", root: &root})
	var got []string
	for _, c := range found {
		got = append(got, c.kind+" "+c.path+" "+c.label)
	}
	assert.Equal(t, []string{
		"mimecast_threats root.input.broker.inputs.0 ",
		"mimecast_enrich root.input.broker.inputs.0.processors.0 ",
		"mimecast_archive root.input.broker.inputs.1 crawl",
		"mimecast_enrich root.pipeline.processors.0.switch.0.processors.0.try.0 ",
		"mimecast_enrich root.pipeline.processors.1.workflow.branches.lookup.processors.0 wf",
		"mimecast_enrich root.output.switch.cases.0.output.processors.0.catch.0 ",
		"mimecast_enrich root.processor_resources.0 res",
	}, got)

	threats := found[0]
	assert.Equal(t, "shared-secret", threats.secret(), "merge keys are resolved")
	raw, err := threats.configYAML()
	require.NoError(t, err)
	assert.Contains(t, string(raw), "api_url: http://a")
	assert.Contains(t, string(raw), "feeds:")
	assert.Nil(t, found[2].config, "an empty block is the defaults")
	assert.Equal(t, "shared-secret", found[3].secret(), "an alias as the whole block is resolved")
}

func TestResourceLabelsReadsOneResourceList(t *testing.T) {
	t.Parallel()
	var root yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(`
rate_limit_resources:
  - label: a
    local: {}
  - label: b
    local: {}
cache_resources:
  - label: not_a_rate_limit
    memory: {}
`), &root))
	assert.Equal(t, []string{"a", "b"}, resourceLabels(configFile{root: &root}, "rate_limit_resources"))
	assert.Equal(t, []string{"not_a_rate_limit"}, resourceLabels(configFile{root: &root}, "cache_resources"))
}
