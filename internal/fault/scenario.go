package fault

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// A Scenario is a drill of chained steps (`paramstore drill run
// --scenario FILE`), read from YAML:
//
//	require: [/app/db-url]        # read through the agent the whole time
//	recovery-timeout: 1m          # how long fresh values may take after the last step
//	steps:
//	  - server-fault: {kind: latency, latency: 300ms, duration: 20s}
//	  - wait: 2s
//	  - agent-fault: {kind: blackhole, duration: 20s}
//	  - run: [systemctl, restart, paramstore-agent]   # a command, e.g. restart the agent
//	    timeout: 30s
//	  - wait: 5s
//	  - clear: agent                # or server, or both
//
// Each step does one thing: wait, inject a fault into the agent or the
// server, clear them, or run a command (the drill owns no process, so an
// agent restart is the operator's command). Faults left at the end are
// cleared. Every error names the line of the step.
type Scenario struct {
	Require         []string
	RecoveryTimeout time.Duration
	Steps           []Step
}

// Step is one step of a scenario; exactly one of its actions is set.
type Step struct {
	Line int
	Name string
	// Wait is how long to wait.
	Wait time.Duration
	// AgentFault and ServerFault are faults to inject (validated).
	AgentFault, ServerFault *Spec
	// Clear is "agent", "server" or "both".
	Clear string
	// Run is a command and its arguments; Timeout bounds it.
	Run     []string
	Timeout time.Duration
}

// Describe is a one-line description of the step.
func (s Step) Describe() string {
	var d string
	switch {
	case s.Wait > 0:
		d = "wait " + s.Wait.String()
	case s.AgentFault != nil:
		d = "agent " + Describe(*s.AgentFault)
	case s.ServerFault != nil:
		d = "server " + Describe(*s.ServerFault)
	case s.Clear != "":
		d = "clear the faults of the " + s.Clear
		if s.Clear == "both" {
			d = "clear the faults of the agent and the server"
		}
	default:
		d = "run " + strings.Join(s.Run, " ")
	}
	if s.Name != "" {
		d = s.Name + ": " + d
	}
	return d
}

// MaxScenarioSteps bounds a scenario.
const MaxScenarioSteps = 100

// maxScenarioSize bounds the file read.
const maxScenarioSize = 1 << 20

type rawScenario struct {
	Require         []string    `yaml:"require"`
	RecoveryTimeout string      `yaml:"recovery-timeout"`
	Steps           []yaml.Node `yaml:"steps"`
}

type rawStep struct {
	Name        string   `yaml:"name"`
	Wait        string   `yaml:"wait"`
	AgentFault  *rawSpec `yaml:"agent-fault"`
	ServerFault *rawSpec `yaml:"server-fault"`
	Clear       string   `yaml:"clear"`
	Run         []string `yaml:"run"`
	Timeout     string   `yaml:"timeout"`
}

type rawSpec struct {
	Kind       string   `yaml:"kind"`
	Rate       float64  `yaml:"rate"`
	Latency    string   `yaml:"latency"`
	Operations []string `yaml:"operations"`
	Duration   string   `yaml:"duration"`
}

// ParseScenario reads and validates a scenario. Its errors start with
// "scenario:" and name the line when the YAML parser gives one.
func ParseScenario(data []byte) (*Scenario, error) {
	if len(data) > maxScenarioSize {
		return nil, fmt.Errorf("scenario: %d bytes, more than %d", len(data), maxScenarioSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var raw rawScenario
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("scenario: the file is empty")
		}
		return nil, fmt.Errorf("scenario: %v", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	sc := &Scenario{Require: raw.Require, RecoveryTimeout: time.Minute}
	if raw.RecoveryTimeout != "" {
		d, err := time.ParseDuration(raw.RecoveryTimeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("scenario: recovery-timeout: want a positive duration, got %q", raw.RecoveryTimeout)
		}
		sc.RecoveryTimeout = d
	}
	for _, n := range raw.Require {
		if n == "" || len(n) > 2048 || strings.ContainsAny(n, " \t\n") {
			return nil, fmt.Errorf("scenario: require: %q is not a parameter name", n)
		}
	}
	if len(raw.Steps) == 0 {
		return nil, errors.New("scenario: steps: want at least one step")
	}
	if len(raw.Steps) > MaxScenarioSteps {
		return nil, fmt.Errorf("scenario: steps: %d steps, at most %d", len(raw.Steps), MaxScenarioSteps)
	}
	for i := range raw.Steps {
		st, err := parseStep(&raw.Steps[i])
		if err != nil {
			return nil, fmt.Errorf("scenario: line %d: step %d: %w", raw.Steps[i].Line, i+1, err)
		}
		sc.Steps = append(sc.Steps, st)
	}
	return sc, nil
}

func parseStep(node *yaml.Node) (Step, error) {
	st := Step{Line: node.Line}
	if node.Kind != yaml.MappingNode {
		return st, errors.New("want a mapping (wait, agent-fault, server-fault, clear or run)")
	}
	var r rawStep
	// Node.Decode does not refuse unknown keys: check them here.
	for i := 0; i+1 < len(node.Content); i += 2 {
		switch k := node.Content[i].Value; k {
		case "name", "wait", "clear", "run", "timeout":
		case "agent-fault", "server-fault":
			v := node.Content[i+1]
			for j := 0; v.Kind == yaml.MappingNode && j+1 < len(v.Content); j += 2 {
				switch v.Content[j].Value {
				case "kind", "rate", "latency", "operations", "duration":
				default:
					return st, fmt.Errorf("%s: unknown key %q at line %d (want kind, rate, latency, operations, duration)", k, v.Content[j].Value, v.Content[j].Line)
				}
			}
		default:
			return st, fmt.Errorf("unknown key %q (want wait, agent-fault, server-fault, clear or run, and name, timeout)", k)
		}
	}
	if err := node.Decode(&r); err != nil {
		return st, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	st.Name = r.Name
	actions := 0
	if r.Wait != "" {
		actions++
		d, err := time.ParseDuration(r.Wait)
		if err != nil || d <= 0 || d > MaxDuration {
			return st, fmt.Errorf("wait: want a positive duration up to %v, got %q", MaxDuration, r.Wait)
		}
		st.Wait = d
	}
	for _, f := range []struct {
		name string
		raw  *rawSpec
		dst  **Spec
	}{{"agent-fault", r.AgentFault, &st.AgentFault}, {"server-fault", r.ServerFault, &st.ServerFault}} {
		if f.raw == nil {
			continue
		}
		actions++
		spec := Spec{Kind: f.raw.Kind, Rate: f.raw.Rate, Latency: f.raw.Latency, Operations: f.raw.Operations, Duration: f.raw.Duration}
		p, err := Parse(spec)
		if err != nil {
			return st, fmt.Errorf("%s: %s", f.name, strings.TrimPrefix(err.Error(), "fault: "))
		}
		s := p.spec
		*f.dst = &s
	}
	if r.Clear != "" {
		actions++
		if r.Clear != "agent" && r.Clear != "server" && r.Clear != "both" {
			return st, fmt.Errorf("clear: want agent, server or both, got %q", r.Clear)
		}
		st.Clear = r.Clear
	}
	if r.Run != nil {
		actions++
		if len(r.Run) == 0 || r.Run[0] == "" {
			return st, errors.New("run: want a command and its arguments, e.g. [systemctl, restart, paramstore-agent]")
		}
		st.Run = r.Run
		st.Timeout = time.Minute
	}
	if r.Timeout != "" {
		if r.Run == nil {
			return st, errors.New("timeout: only a run step has one")
		}
		d, err := time.ParseDuration(r.Timeout)
		if err != nil || d <= 0 || d > MaxDuration {
			return st, fmt.Errorf("timeout: want a positive duration up to %v, got %q", MaxDuration, r.Timeout)
		}
		st.Timeout = d
	}
	if actions != 1 {
		return st, fmt.Errorf("want exactly one of wait, agent-fault, server-fault, clear or run, got %d", actions)
	}
	return st, nil
}
