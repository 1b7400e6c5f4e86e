package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/paramstore/paramstore/internal/fault"
	"github.com/paramstore/paramstore/internal/incident"
)

// errDrillFailed makes `drill run` exit non-zero after printing a FAIL
// report.
var errDrillFailed = errors.New("drill: FAIL")

type drillOptions struct {
	local    localFlags
	server   string
	duration time.Duration
	require  []string
	recover  time.Duration
	// scenario, if set, replaces the single blackhole with its steps.
	scenario *fault.Scenario
}

func newDrillCmd(stdout io.Writer) *cobra.Command {
	var o drillOptions
	var scenarioFile string
	cmd := &cobra.Command{Use: "drill", Short: "Game days: rehearse an outage against an agent"}
	run := &cobra.Command{
		Use:   "run",
		Short: "Cut an agent off its upstreams for --duration while reading through it; PASS when every read succeeded and fresh values returned",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if scenarioFile != "" {
				raw, err := os.ReadFile(scenarioFile)
				if err != nil {
					return fmt.Errorf("drill run: --scenario: %w", err)
				}
				sc, err := fault.ParseScenario(raw)
				if err != nil {
					return fmt.Errorf("drill run: %s: %w", scenarioFile, err)
				}
				o.scenario = sc
				o.require = append(o.require, sc.Require...)
				if !cmd.Flags().Changed("recovery-timeout") {
					o.recover = sc.RecoveryTimeout
				}
				for _, st := range sc.Steps {
					if (st.ServerFault != nil || st.Clear == "server") && o.server == "" {
						return fmt.Errorf("drill run: %s: line %d: a server step needs --server URL", scenarioFile, st.Line)
					}
				}
			}
			if len(o.require) == 0 {
				return errors.New("drill run: name the parameters to read with --require NAME (or require: in the scenario)")
			}
			rep, err := runDrill(cmd.Context(), o)
			if err != nil {
				return err
			}
			rep.write(stdout)
			if !rep.pass {
				return errDrillFailed
			}
			return nil
		},
	}
	f := run.Flags()
	f.StringVar(&o.local.token, "token", "", "the agent's token (default $AWS_SESSION_TOKEN)")
	f.StringVar(&o.local.endpoint, "agent", "http://127.0.0.1:2773", "the agent's URL (started with --enable-fault-injection)")
	f.StringVar(&o.server, "server", "", "a server's URL, checked ready before the drill (optional)")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long the agent is cut off")
	f.StringArrayVar(&o.require, "require", nil, "a parameter to read through the agent the whole time (repeatable)")
	f.DurationVar(&o.recover, "recovery-timeout", time.Minute, "how long to wait for fresh values after the restore")
	f.StringVar(&scenarioFile, "scenario", "", "a YAML file of chained steps (server faults, agent faults, commands such as an agent restart, waits) run instead of the single blackhole of --duration (README: Operating it)")
	f.StringVar(&o.local.credentialsFile, "credentials-file", "", "AWS shared credentials file to sign the server's fault calls (scenario server steps)")
	f.StringVar(&o.local.profile, "profile", "", "profile of the AWS shared credentials (scenario server steps)")
	f.StringVar(&o.local.region, "region", "us-east-1", "region to sign for (scenario server steps)")
	cmd.AddCommand(run)
	return cmd
}

type drillReport struct {
	start, cut, restored, fresh time.Time
	attempts, ok, stale, failed int
	// agentDown counts the reads that found no agent while a run step
	// (an agent restart) ran and until the agent answered again.
	agentDown  int
	steps      []stepResult
	longestGap time.Duration
	freshAgain bool
	incident   *incident.Incident
	pass       bool
	notes      []string
}

func (r *drillReport) write(w io.Writer) {
	verdict := "FAIL"
	if r.pass {
		verdict = "PASS"
	}
	fmt.Fprintf(w, "# Drill: %s\n\n", verdict)
	what := "upstreams cut off"
	if len(r.steps) > 0 {
		what = fmt.Sprintf("scenario of %d steps ran", len(r.steps))
	}
	fmt.Fprintf(w, "- started %s; %s at %s for %s\n", r.start.UTC().Format(time.RFC3339), what,
		r.cut.UTC().Format("15:04:05.000"), r.restored.Sub(r.cut).Round(time.Millisecond))
	fmt.Fprintf(w, "- reads attempted: %d, succeeded: %d (%.2f%%), served stale: %d, failed: %d\n",
		r.attempts, r.ok, pct(r.ok, r.attempts), r.stale, r.failed)
	if r.agentDown > 0 {
		fmt.Fprintf(w, "- reads while the agent restarted (not counted as failed): %d\n", r.agentDown)
	}
	fmt.Fprintf(w, "- longest gap between successful reads: %s\n", r.longestGap.Round(time.Millisecond))
	if r.freshAgain {
		fmt.Fprintf(w, "- fresh values %s after the restore\n", r.fresh.Sub(r.restored).Round(time.Millisecond))
	} else {
		fmt.Fprintf(w, "- fresh values did not return after the restore\n")
	}
	for _, n := range r.notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	if len(r.steps) > 0 {
		fmt.Fprintf(w, "\n## Steps\n\n| # | at | took | step | result |\n|---|---|---|---|---|\n")
		for i, st := range r.steps {
			res := "ok"
			if st.err != nil {
				res = "FAILED: " + strings.ReplaceAll(st.err.Error(), "|", "/")
			}
			fmt.Fprintf(w, "| %d | +%s | %s | %s | %s |\n", i+1, st.at.Sub(r.start).Round(time.Millisecond),
				st.took.Round(time.Millisecond), strings.ReplaceAll(st.step.Describe(), "|", "/"), res)
		}
	}
	if r.incident != nil {
		fmt.Fprintf(w, "\n## The agent's incident\n\n")
		incident.Report(w, *r.incident, time.Now())
	} else {
		fmt.Fprintf(w, "\n(the agent recorded no incident for the drill)\n")
	}
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// stepResult is one scenario step as it ran.
type stepResult struct {
	step fault.Step
	at   time.Time
	took time.Duration
	err  error
}

// drillRead reads name through the agent's Lambda extension path;
// unreachable is a read that found no agent.
func drillRead(ctx context.Context, lf *localFlags, name string) (ok, stale, unreachable bool) {
	u := strings.TrimRight(lf.endpoint, "/") + "/systemsmanager/parameters/get?withDecryption=true&name=" + url.QueryEscape(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, false, false
	}
	req.Header.Set("X-Aws-Parameters-Secrets-Token", lf.tokenValue())
	resp, err := localHTTP.Do(req)
	if err != nil {
		return false, false, true
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, resp.Header.Get("X-Paramstore-Stale") == "true", false
}

func runDrill(ctx context.Context, o drillOptions) (*drillReport, error) {
	if o.server != "" {
		resp, err := localHTTP.Get(strings.TrimRight(o.server, "/") + "/readyz")
		if err != nil {
			return nil, fmt.Errorf("drill: server: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("drill: server %s is not ready (%s): a drill needs a healthy start", o.server, resp.Status)
		}
	}
	rep := &drillReport{start: time.Now()}
	var mu sync.Mutex
	lastOK := time.Now()
	phase := 0 // 0 before the cut, 1 cut off, 2 restored
	// runActive is set while a run step runs, afterRun from its end until
	// a read reaches the agent again: reads that find no agent then are
	// an agent restarting, not failed reads.
	runActive, afterRun := false, false
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	freshCh := make(chan time.Time, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for rctx.Err() == nil {
			allFresh := true
			for _, n := range o.require {
				ok, stale, unreachable := drillRead(rctx, &o.local, n)
				if rctx.Err() != nil {
					return
				}
				now := time.Now()
				mu.Lock()
				if (runActive || afterRun) && unreachable {
					rep.agentDown++
					allFresh = false
					mu.Unlock()
					continue
				}
				restarted := runActive || afterRun
				afterRun = afterRun && runActive
				rep.attempts++
				switch {
				case ok:
					rep.ok++
					if !restarted {
						rep.longestGap = max(rep.longestGap, now.Sub(lastOK))
					}
					lastOK = now
				default:
					rep.failed++
				}
				if stale {
					rep.stale++
				}
				allFresh = allFresh && ok && !stale
				mu.Unlock()
			}
			mu.Lock()
			if phase == 2 && allFresh {
				select {
				case freshCh <- time.Now():
				default:
				}
			}
			mu.Unlock()
			select {
			case <-rctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	// A moment of normal reads first: the baseline.
	sleepCtx(ctx, time.Second)
	mu.Lock()
	rep.cut, phase = time.Now(), 1
	mu.Unlock()
	if o.scenario == nil {
		if err := blackholeOutage(ctx, o, rep); err != nil {
			stop()
			wg.Wait()
			return nil, err
		}
	} else {
		setRestarting := func(on bool) {
			mu.Lock()
			runActive, afterRun = on, afterRun || !on
			mu.Unlock()
		}
		runScenario(ctx, o, rep, setRestarting)
	}
	mu.Lock()
	rep.restored, phase = time.Now(), 2
	mu.Unlock()
	select {
	case t := <-freshCh:
		rep.fresh, rep.freshAgain = t, true
	case <-time.After(o.recover):
	case <-ctx.Done():
	}
	stop()
	wg.Wait()
	// The agent's drill incident: the one open at the cut. Wait a little
	// for it to end (it ends once an upstream answers and nothing is stale).
	deadline := time.Now().Add(30 * time.Second)
	for {
		var out struct {
			Incidents []incident.Incident `json:"incidents"`
		}
		if err := o.local.call(ctx, http.MethodGet, "/incidents", nil, &out); err != nil {
			rep.notes = append(rep.notes, "incidents: "+err.Error())
			break
		}
		for i := range out.Incidents {
			inc := out.Incidents[i]
			// The newest that overlaps the outage.
			if inc.Started.Before(rep.restored.Add(time.Second)) && (inc.Ended == nil || inc.Ended.After(rep.cut)) {
				rep.incident = &inc
				break
			}
		}
		if rep.incident == nil || !rep.incident.Open() || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
	stepsOK := true
	for _, st := range rep.steps {
		stepsOK = stepsOK && st.err == nil
	}
	rep.pass = rep.failed == 0 && rep.attempts > 0 && rep.freshAgain && stepsOK
	return rep, nil
}

// blackholeOutage is the drill without a scenario: the agent's upstreams
// blackholed for o.duration.
func blackholeOutage(ctx context.Context, o drillOptions, rep *drillReport) error {
	var st fault.Status
	// The fault is time-boxed with a margin: it reverts by itself even if
	// this command dies; the restore below clears it on time.
	spec := fault.Spec{Kind: fault.KindBlackhole, Duration: (o.duration + 30*time.Second).String()}
	if err := o.local.call(ctx, http.MethodPost, "/fault", spec, &st); err != nil {
		return fmt.Errorf("drill: cut the agent off: %w", err)
	}
	sleepCtx(ctx, o.duration)
	var cleared struct{ Cleared bool }
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := o.local.call(cctx, http.MethodDelete, "/fault", nil, &cleared)
	ccancel()
	if err != nil {
		rep.notes = append(rep.notes, "restore failed ("+err.Error()+"); the fault expires by itself at "+st.Expires.UTC().Format(time.RFC3339))
	}
	return nil
}

// runScenario runs the scenario's steps in order, recording each, then
// clears the faults its steps injected and did not clear. A failed step
// is recorded (the drill FAILs) and the next steps still run: the faults
// are time-boxed, and the clean-up at the end restores the rest.
func runScenario(ctx context.Context, o drillOptions, rep *drillReport, setRestarting func(bool)) {
	var admin *adminClient
	serverCall := func(op string, in, out any) error {
		if admin == nil {
			lf := o.local
			lf.endpoint = o.server
			ac, err := lf.admin(ctx)
			if err != nil {
				return err
			}
			admin = ac
		}
		return admin.call(ctx, op, in, out)
	}
	// agentCall calls the agent, waiting up to 15s for one that is not
	// listening (yet): a run step may have just restarted it.
	agentCall := func(method string, in, out any) error {
		deadline := time.Now().Add(15 * time.Second)
		for {
			err := o.local.call(ctx, method, "/fault", in, out)
			var op *net.OpError
			if err == nil || !errors.As(err, &op) || op.Op != "dial" || time.Now().After(deadline) || ctx.Err() != nil {
				return err
			}
			sleepCtx(ctx, 100*time.Millisecond)
		}
	}
	agentFault, serverFault := false, false
	clear := func(which string) error {
		var errs []error
		if which != "server" {
			var out struct{ Cleared bool }
			errs = append(errs, agentCall(http.MethodDelete, nil, &out))
			agentFault = false
		}
		if which != "agent" {
			var out struct{ Cleared bool }
			errs = append(errs, serverCall("ClearFault", struct{}{}, &out))
			serverFault = false
		}
		return errors.Join(errs...)
	}
	for _, st := range o.scenario.Steps {
		if ctx.Err() != nil {
			break
		}
		res := stepResult{step: st, at: time.Now()}
		var fst fault.Status
		switch {
		case st.Wait > 0:
			sleepCtx(ctx, st.Wait)
		case st.AgentFault != nil:
			res.err = agentCall(http.MethodPost, *st.AgentFault, &fst)
			agentFault = agentFault || res.err == nil
		case st.ServerFault != nil:
			res.err = serverCall("InjectFault", *st.ServerFault, &fst)
			serverFault = serverFault || res.err == nil
		case st.Clear != "":
			res.err = clear(st.Clear)
		default:
			setRestarting(true)
			cctx, cancel := context.WithTimeout(ctx, st.Timeout)
			cmd := exec.CommandContext(cctx, st.Run[0], st.Run[1:]...)
			out, err := cmd.CombinedOutput()
			cancel()
			setRestarting(false)
			if err != nil {
				res.err = fmt.Errorf("%w: %s", err, lastLine(out))
			}
		}
		res.took = time.Since(res.at)
		rep.steps = append(rep.steps, res)
	}
	var left []string
	if agentFault {
		left = append(left, "agent")
	}
	if serverFault {
		left = append(left, "server")
	}
	if len(left) > 0 {
		which := left[0]
		if len(left) == 2 {
			which = "both"
		}
		if err := clear(which); err != nil {
			rep.notes = append(rep.notes, "clearing the faults left at the end failed ("+err.Error()+"); they expire by themselves")
		} else {
			rep.notes = append(rep.notes, "faults left at the end cleared: "+strings.Join(left, ", "))
		}
	}
}

// lastLine is the last non-empty line of a command's output, bounded.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	l := lines[len(lines)-1]
	if len(l) > 200 {
		l = l[:200] + "..."
	}
	return l
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
