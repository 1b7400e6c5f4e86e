package fault

import (
	"strings"
	"testing"
	"time"
)

func TestParseScenario(t *testing.T) {
	good := `
require: [/app/a, /app/b]
recovery-timeout: 30s
steps:
  - name: slow server
    server-fault: {kind: latency, latency: 300ms, duration: 20s}
  - wait: 2s
  - agent-fault: {kind: blackhole, duration: 20s}
  - run: [sh, -c, "kill -TERM $(cat agent.pid)"]
    timeout: 10s
  - clear: both
`
	sc, err := ParseScenario([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Require) != 2 || sc.RecoveryTimeout != 30*time.Second || len(sc.Steps) != 5 {
		t.Fatalf("scenario: %+v", sc)
	}
	if s := sc.Steps[0]; s.Line != 5 || s.ServerFault == nil || s.ServerFault.Latency != "300ms" || s.ServerFault.Rate != 1 {
		t.Errorf("step 1: %+v", s)
	}
	if s := sc.Steps[3]; len(s.Run) != 3 || s.Timeout != 10*time.Second {
		t.Errorf("step 4: %+v", s)
	}
	if got, want := sc.Steps[0].Describe(), "slow server: server fault injected: latency 300ms for 20s"; got != want {
		t.Errorf("Describe: got %q, want %q", got, want)
	}

	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "the file is empty"},
		{"not yaml", "steps: [", "line 1"},
		{"unknown top key", "steps: [{wait: 1s}]\nfoo: 1\n", "line 2: field foo not found"},
		{"no steps", "require: [/a]\n", "at least one step"},
		{"two actions", "steps:\n  - wait: 1s\n    clear: agent\n", "line 2: step 1: want exactly one"},
		{"no action", "steps:\n  - name: x\n", "line 2: step 1: want exactly one"},
		{"bad wait", "steps:\n  - wait: 1s\n  - wait: soon\n", `line 3: step 2: wait: want a positive duration`},
		{"bad kind", "steps:\n  - agent-fault: {kind: flood, duration: 1s}\n", `line 2: step 1: agent-fault: kind: want latency`},
		{"no duration", "steps:\n  - server-fault: {kind: error}\n", `line 2: step 1: server-fault: duration`},
		{"unknown spec key", "steps:\n  - server-fault: {kind: error, duration: 1s, colour: red}\n", "line 2"},
		{"unknown step key", "steps:\n  - wiat: 1s\n", `line 2: step 1: unknown key "wiat"`},
		{"bad clear", "steps:\n  - clear: everything\n", "clear: want agent, server or both"},
		{"empty run", "steps:\n  - run: []\n", "run: want a command"},
		{"timeout without run", "steps:\n  - wait: 1s\n    timeout: 2s\n", "timeout: only a run step"},
		{"step not a map", "steps:\n  - 12\n", "line 2: step 1: want a mapping"},
		{"bad recovery", "recovery-timeout: -1s\nsteps: [{wait: 1s}]\n", "recovery-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "scenario: ") {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// FuzzScenario: a scenario file is operator input; no input panics, and
// what parses is valid.
func FuzzScenario(f *testing.F) {
	f.Add([]byte("steps:\n  - wait: 1s\n  - agent-fault: {kind: blackhole, duration: 5s}\n  - run: [true]\n  - clear: both\n"))
	f.Add([]byte("require: [/a]\nsteps: [{server-fault: {kind: latency, latency: 1s, duration: 1m, operations: [GetParameter]}}]\n"))
	f.Add([]byte("steps:\n  - &a {wait: 1s}\n  - *a\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		sc, err := ParseScenario(raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "scenario: ") {
				t.Fatalf("error without the scenario prefix: %v", err)
			}
			return
		}
		if len(sc.Steps) == 0 || len(sc.Steps) > MaxScenarioSteps || sc.RecoveryTimeout <= 0 {
			t.Fatalf("accepted %+v", sc)
		}
		for _, s := range sc.Steps {
			n := 0
			for _, set := range []bool{s.Wait > 0, s.AgentFault != nil, s.ServerFault != nil, s.Clear != "", len(s.Run) > 0} {
				if set {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("step with %d actions accepted: %+v", n, s)
			}
			for _, sp := range []*Spec{s.AgentFault, s.ServerFault} {
				if sp != nil {
					if _, err := Parse(*sp); err != nil {
						t.Fatalf("accepted an invalid fault: %v", err)
					}
				}
			}
		}
	})
}
