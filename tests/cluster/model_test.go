package cluster_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// The linearizability model of one parameter, used with PutParameter
// (Overwrite) and GetParameter.
//
// State: the parameter's current (version, value); version 0 means the
// parameter does not exist.
// Put(value) -> version: legal iff version == state.version+1; the state
// becomes (version, value).
// Get() -> (version, value): legal iff it equals the state (ParameterNotFound
// is version 0).
//
// A put whose outcome the client does not know (an error, a timeout) may
// have been applied at any moment after its call, or never: it is recorded
// with an infinite return time (the checker may then linearize it after
// everything else, where its effect is invisible) and, when its version is
// unknown, it may take any next version. Reads that failed have no effect
// and are left out of the history.

// modelState is the state of one parameter.
type modelState struct {
	version int64
	value   string
}

// modelInput is one call on one parameter.
type modelInput struct {
	key   string
	put   bool
	value string // the value put
}

// modelOutput is what the call returned.
type modelOutput struct {
	unknown bool   // a put whose outcome is unknown
	version int64  // put: the new version (0 if unknown); get: the version read (0: not found)
	value   string // get: the value read
}

// infinity is the return time of an operation whose outcome is unknown.
const infinity = math.MaxInt64

var parameterModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(modelInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return modelState{} },
	Step: func(state, input, output any) (bool, any) {
		s := state.(modelState)
		in := input.(modelInput)
		out := output.(modelOutput)
		if in.put {
			if out.unknown && out.version == 0 {
				return true, modelState{version: s.version + 1, value: in.value}
			}
			if out.version != s.version+1 {
				return false, s
			}
			return true, modelState{version: out.version, value: in.value}
		}
		return out.version == s.version && out.value == s.value, s
	},
	DescribeOperation: func(input, output any) string {
		in := input.(modelInput)
		out := output.(modelOutput)
		switch {
		case in.put && out.unknown && out.version == 0:
			return fmt.Sprintf("put(%s) -> ?", in.value)
		case in.put && out.unknown:
			return fmt.Sprintf("put(%s) -> v%d (unacknowledged, found in the history)", in.value, out.version)
		case in.put:
			return fmt.Sprintf("put(%s) -> v%d", in.value, out.version)
		case out.version == 0:
			return "get() -> not found"
		default:
			return fmt.Sprintf("get() -> v%d %s", out.version, out.value)
		}
	},
	DescribeState: func(state any) string {
		s := state.(modelState)
		if s.version == 0 {
			return "absent"
		}
		return fmt.Sprintf("v%d %s", s.version, s.value)
	},
}

// call is one recorded client call on one parameter.
type call struct {
	client  int
	node    string
	key     string
	put     bool
	value   string // put: the value sent
	callAt  int64
	retAt   int64
	err     error
	version int64  // the version returned (put) or read (get); 0 for not found
	got     string // get: the value read
}

// recorder collects calls from concurrent clients.
type recorder struct {
	clk   clock
	mu    sync.Mutex
	calls []call
}

func newRecorder() *recorder { return &recorder{clk: clock{start: time.Now()}} }

func (r *recorder) add(c call) {
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

func (r *recorder) snapshot() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// version is one entry of a parameter's final history (GetParameterHistory
// on the converged cluster).
type version struct {
	version int64
	value   string
}

// finalHistory is the converged history of a parameter; truncated is set
// when older versions were dropped (the 100-version limit), so a value's
// absence proves nothing.
type finalHistory struct {
	versions  []version
	truncated bool
}

// resolution is what resolve learned from the final histories.
type resolution struct {
	ops      []porcupine.Operation
	acked    int      // acknowledged puts
	lost     int      // acknowledged puts missing from the final history
	unknown  int      // puts with an unknown outcome
	applied  int      // ... of which the final history shows applied
	dropped  int      // ... of which the final history shows never applied
	reads    int      // successful gets in the history
	readErrs int      // failed gets (left out)
	problems []string // violations found without the checker
}

// resolve turns recorded calls into porcupine operations. The final history
// of each parameter (read once the cluster converged and nothing writes)
// decides the fate of the puts whose outcome the client did not learn: a
// value present at version v was applied as v (still with an unknown return
// time); a value absent from an untruncated history was never applied and
// can never be (the converged leader's log holds every committed entry), so
// the put is dropped. Acknowledged puts missing from the final history are
// lost writes; values applied twice, or versions no client wrote, are
// reported as problems.
func resolve(calls []call, finals map[string]finalHistory) resolution {
	var res resolution
	type where struct {
		key string
		ver int64
	}
	seen := map[string][]where{} // value -> where it is in the final histories
	for key, h := range finals {
		for _, v := range h.versions {
			seen[v.value] = append(seen[v.value], where{key, v.version})
		}
	}
	written := map[string]bool{}
	for _, c := range calls {
		if c.put {
			written[c.value] = true
		}
	}
	for key, h := range finals {
		for _, v := range h.versions {
			if !written[v.value] {
				res.problems = append(res.problems, fmt.Sprintf("%s version %d holds %q, which no client wrote", key, v.version, v.value))
			}
		}
	}
	byValue := map[string]call{}
	for _, c := range calls {
		if c.put {
			byValue[c.value] = c
		}
	}
	for value, ws := range seen {
		if len(ws) > 1 {
			c := byValue[value]
			outcome := fmt.Sprintf("acknowledged as version %d", c.version)
			if c.err != nil {
				outcome = fmt.Sprintf("failed: %v", c.err)
			}
			res.problems = append(res.problems, fmt.Sprintf("duplicate apply: PutParameter %s = %q (client %d via %s, called at %v, returned at %v, %s) was applied %d times: %v",
				c.key, value, c.client, c.node, time.Duration(c.callAt), time.Duration(c.retAt), outcome, len(ws), ws))
		}
	}
	for _, c := range calls {
		op := porcupine.Operation{
			ClientId: c.client,
			Input:    modelInput{key: c.key, put: c.put, value: c.value},
			Call:     c.callAt,
			Return:   c.retAt,
			Metadata: c.node,
		}
		switch {
		case !c.put && c.err != nil:
			res.readErrs++
			continue
		case !c.put:
			res.reads++
			op.Output = modelOutput{version: c.version, value: c.got}
		case c.err == nil:
			res.acked++
			op.Output = modelOutput{version: c.version}
			found := false
			for _, w := range seen[c.value] {
				found = found || (w.key == c.key && w.ver == c.version)
			}
			if !found {
				ws := seen[c.value]
				res.lost++
				res.problems = append(res.problems, fmt.Sprintf("acknowledged PutParameter %s = %q (version %d, via %s) is not in the final history (found at %v)", c.key, c.value, c.version, c.node, ws))
			}
		default:
			res.unknown++
			ws := seen[c.value]
			h := finals[c.key]
			switch {
			case len(ws) > 0:
				res.applied++
				op.Output = modelOutput{unknown: true, version: ws[0].ver}
			case !h.truncated && finals != nil:
				res.dropped++
				continue
			default:
				op.Output = modelOutput{unknown: true}
			}
			op.Return = infinity
		}
		res.ops = append(res.ops, op)
	}
	return res
}

// checkLinearizable runs porcupine on ops. On a violation (or a checker
// timeout) it writes the visualization to dir and returns an error naming it.
func checkLinearizable(ops []porcupine.Operation, dir string, timeout time.Duration) (porcupine.CheckResult, error) {
	result, info := porcupine.CheckOperationsVerbose(parameterModel, ops, timeout)
	if result == porcupine.Ok {
		return result, nil
	}
	path := filepath.Join(dir, "linearizability.html")
	if err := porcupine.VisualizePath(parameterModel, info, path); err != nil {
		return result, fmt.Errorf("history is not linearizable (porcupine: %s); writing the visualization failed: %v", result, err)
	}
	if result == porcupine.Unknown {
		return result, fmt.Errorf("porcupine could not decide within %v; partial linearizations in %s", timeout, path)
	}
	// Name the parameters whose histories fail, each written out as text.
	var bad []string
	for _, part := range parameterModel.Partition(ops) {
		if porcupine.CheckOperations(parameterModel, part) {
			continue
		}
		key := part[0].Input.(modelInput).key
		file := filepath.Join(dir, "history-"+unsafeChars.ReplaceAllString(key, "_")+".txt")
		os.WriteFile(file, []byte(describeHistory(part)), 0o644)
		bad = append(bad, file)
	}
	return result, fmt.Errorf("history is not linearizable; visualization: %s; failing parameters' histories: %s", path, strings.Join(bad, " "))
}

// describeHistory lists a parameter's operations by call time, one a line.
func describeHistory(ops []porcupine.Operation) string {
	sorted := append([]porcupine.Operation(nil), ops...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Call < sorted[j].Call })
	var b strings.Builder
	fmt.Fprintf(&b, "%-14s %-14s %-7s %-4s %s\n", "call", "return", "client", "node", "operation")
	for _, op := range sorted {
		ret := "never"
		if op.Return != infinity {
			ret = time.Duration(op.Return).String()
		}
		node, _ := op.Metadata.(string)
		fmt.Fprintf(&b, "%-14s %-14s %-7d %-4s %s\n", time.Duration(op.Call), ret, op.ClientId, node, parameterModel.DescribeOperation(op.Input, op.Output))
	}
	return b.String()
}

// The model and the resolution, on hand-written histories.

func op(client int, key string, put bool, value string, callAt, retAt int64, out modelOutput) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Input: modelInput{key: key, put: put, value: value}, Call: callAt, Return: retAt, Output: out}
}

func TestModel(t *testing.T) {
	tests := []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"sequential", []porcupine.Operation{
			op(0, "a", false, "", 0, 1, modelOutput{}),
			op(0, "a", true, "x", 2, 3, modelOutput{version: 1}),
			op(1, "a", false, "", 4, 5, modelOutput{version: 1, value: "x"}),
			op(1, "a", true, "y", 6, 7, modelOutput{version: 2}),
		}, porcupine.Ok},
		{"concurrent puts take their versions in either order", []porcupine.Operation{
			op(0, "a", true, "x", 0, 10, modelOutput{version: 2}),
			op(1, "a", true, "y", 1, 9, modelOutput{version: 1}),
			op(2, "a", false, "", 11, 12, modelOutput{version: 2, value: "x"}),
		}, porcupine.Ok},
		{"read concurrent with a put may see either state", []porcupine.Operation{
			op(0, "a", true, "x", 0, 1, modelOutput{version: 1}),
			op(1, "a", true, "y", 2, 10, modelOutput{version: 2}),
			op(2, "a", false, "", 3, 4, modelOutput{version: 1, value: "x"}),
			op(2, "a", false, "", 5, 6, modelOutput{version: 2, value: "y"}),
		}, porcupine.Ok},
		{"stale read after a newer read", []porcupine.Operation{
			op(0, "a", true, "x", 0, 1, modelOutput{version: 1}),
			op(1, "a", true, "y", 2, 10, modelOutput{version: 2}),
			op(2, "a", false, "", 3, 4, modelOutput{version: 2, value: "y"}),
			op(2, "a", false, "", 5, 6, modelOutput{version: 1, value: "x"}),
		}, porcupine.Illegal},
		{"stale read after the put returned", []porcupine.Operation{
			op(0, "a", true, "x", 0, 1, modelOutput{version: 1}),
			op(1, "a", false, "", 2, 3, modelOutput{}),
		}, porcupine.Illegal},
		{"version skipped", []porcupine.Operation{
			op(0, "a", true, "x", 0, 1, modelOutput{version: 1}),
			op(0, "a", true, "y", 2, 3, modelOutput{version: 3}),
		}, porcupine.Illegal},
		{"unknown put explains a later version", []porcupine.Operation{
			op(0, "a", true, "x", 0, infinity, modelOutput{unknown: true}),
			op(1, "a", true, "y", 5, 6, modelOutput{version: 2}),
			op(1, "a", false, "", 7, 8, modelOutput{version: 2, value: "y"}),
		}, porcupine.Ok},
		{"unknown put that was never applied", []porcupine.Operation{
			op(0, "a", true, "x", 0, infinity, modelOutput{unknown: true}),
			op(1, "a", true, "y", 5, 6, modelOutput{version: 1}),
			op(1, "a", false, "", 7, 8, modelOutput{version: 1, value: "y"}),
		}, porcupine.Ok},
		{"unknown put cannot take effect before its call", []porcupine.Operation{
			op(1, "a", false, "", 0, 1, modelOutput{version: 1, value: "x"}),
			op(0, "a", true, "x", 2, infinity, modelOutput{unknown: true}),
		}, porcupine.Illegal},
		{"keys are independent", []porcupine.Operation{
			op(0, "a", true, "x", 0, 1, modelOutput{version: 1}),
			op(1, "b", false, "", 2, 3, modelOutput{}),
			op(1, "b", true, "z", 4, 5, modelOutput{version: 1}),
		}, porcupine.Ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := porcupine.CheckOperationsVerbose(parameterModel, tt.ops, 10*time.Second)
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCheckWritesVisualization(t *testing.T) {
	dir := t.TempDir()
	ops := []porcupine.Operation{
		op(0, "a", true, "x", 0, 1, modelOutput{version: 1}),
		op(1, "a", false, "", 2, 3, modelOutput{}),
	}
	result, err := checkLinearizable(ops, dir, 10*time.Second)
	if result != porcupine.Illegal || err == nil {
		t.Fatalf("got %s, %v; want Illegal and an error", result, err)
	}
	if _, statErr := filepath.Glob(filepath.Join(dir, "linearizability.html")); statErr != nil {
		t.Fatal(statErr)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*.html")); len(matches) != 1 {
		t.Errorf("got visualizations %q, want one", matches)
	}
}

func TestResolve(t *testing.T) {
	errTimeout := fmt.Errorf("timeout")
	calls := []call{
		{client: 0, key: "a", put: true, value: "x", callAt: 0, retAt: 1, version: 1},
		{client: 1, key: "a", put: true, value: "y", callAt: 2, retAt: 3, err: errTimeout},   // applied as 2
		{client: 1, key: "a", put: true, value: "z", callAt: 4, retAt: 5, err: errTimeout},   // never applied
		{client: 2, key: "a", put: false, callAt: 6, retAt: 7, version: 2, got: "y"},         // read
		{client: 2, key: "a", put: false, callAt: 8, retAt: 9, err: errTimeout},              // failed read
		{client: 0, key: "b", put: true, value: "w", callAt: 10, retAt: 11, version: 1},      // lost
		{client: 0, key: "c", put: true, value: "v", callAt: 10, retAt: 11, err: errTimeout}, // truncated: unknown
	}
	finals := map[string]finalHistory{
		"a": {versions: []version{{1, "x"}, {2, "y"}, {3, "y"}}},
		"b": {},
		"c": {truncated: true, versions: []version{{7, "q"}}},
	}
	res := resolve(calls, finals)
	if res.acked != 2 || res.lost != 1 || res.unknown != 3 || res.applied != 1 || res.dropped != 1 || res.reads != 1 || res.readErrs != 1 {
		t.Errorf("got %+v", res)
	}
	if len(res.ops) != 5 {
		t.Errorf("got %d operations, want 5 (x, y, read, w, v)", len(res.ops))
	}
	// Problems: y applied twice, q written by nobody, w lost.
	if len(res.problems) != 3 {
		t.Errorf("got problems %q, want 3", res.problems)
	}
}
