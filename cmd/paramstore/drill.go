package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
}

func newDrillCmd(stdout io.Writer) *cobra.Command {
	var o drillOptions
	cmd := &cobra.Command{Use: "drill", Short: "Game days: rehearse an outage against an agent"}
	run := &cobra.Command{
		Use:   "run",
		Short: "Cut an agent off its upstreams for --duration while reading through it; PASS when every read succeeded and fresh values returned",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.require) == 0 {
				return errors.New("drill run: name the parameters to read with --require NAME")
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
	f.StringVar(&o.local.conn.endpoint, "agent", defaultAgentEndpoint, "the agent's URL (started with --enable-fault-injection)")
	o.local.conn.registerTLS(f, "")
	f.StringVar(&o.server, "server", "", "a server's URL, checked ready before the drill (optional)")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long the agent is cut off")
	f.StringArrayVar(&o.require, "require", nil, "a parameter to read through the agent the whole time (repeatable)")
	f.DurationVar(&o.recover, "recovery-timeout", time.Minute, "how long to wait for fresh values after the restore")
	cmd.AddCommand(run)
	return cmd
}

type drillReport struct {
	start, cut, restored, fresh time.Time
	attempts, ok, stale, failed int
	longestGap                  time.Duration
	freshAgain                  bool
	incident                    *incident.Incident
	pass                        bool
	notes                       []string
}

func (r *drillReport) write(w io.Writer) {
	verdict := "FAIL"
	if r.pass {
		verdict = "PASS"
	}
	fmt.Fprintf(w, "# Drill: %s\n\n", verdict)
	fmt.Fprintf(w, "- started %s; upstreams cut off at %s for %s\n", r.start.UTC().Format(time.RFC3339),
		r.cut.UTC().Format("15:04:05.000"), r.restored.Sub(r.cut).Round(time.Millisecond))
	fmt.Fprintf(w, "- reads attempted: %d, succeeded: %d (%.2f%%), served stale: %d, failed: %d\n",
		r.attempts, r.ok, pct(r.ok, r.attempts), r.stale, r.failed)
	fmt.Fprintf(w, "- longest gap between successful reads: %s\n", r.longestGap.Round(time.Millisecond))
	if r.freshAgain {
		fmt.Fprintf(w, "- fresh values %s after the restore\n", r.fresh.Sub(r.restored).Round(time.Millisecond))
	} else {
		fmt.Fprintf(w, "- fresh values did not return after the restore\n")
	}
	for _, n := range r.notes {
		fmt.Fprintf(w, "- %s\n", n)
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

// drillRead reads name through the agent's Lambda extension path.
func drillRead(ctx context.Context, hc *http.Client, lf *localFlags, name string) (ok, stale bool) {
	u := strings.TrimRight(lf.endpoint(), "/") + "/systemsmanager/parameters/get?withDecryption=true&name=" + url.QueryEscape(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, false
	}
	req.Header.Set("X-Aws-Parameters-Secrets-Token", lf.tokenValue())
	resp, err := hc.Do(req)
	if err != nil {
		return false, false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, resp.Header.Get("X-Paramstore-Stale") == "true"
}

func runDrill(ctx context.Context, o drillOptions) (*drillReport, error) {
	hc, err := o.local.conn.httpClient(ctx, localTimeout)
	if err != nil {
		return nil, err
	}
	if o.server != "" {
		resp, err := hc.Get(strings.TrimRight(o.server, "/") + "/readyz")
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
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	freshCh := make(chan time.Time, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for rctx.Err() == nil {
			allFresh := true
			for _, n := range o.require {
				ok, stale := drillRead(rctx, hc, &o.local, n)
				if rctx.Err() != nil {
					return
				}
				now := time.Now()
				mu.Lock()
				rep.attempts++
				switch {
				case ok:
					rep.ok++
					rep.longestGap = max(rep.longestGap, now.Sub(lastOK))
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
	var st fault.Status
	// The fault is time-boxed with a margin: it reverts by itself even if
	// this command dies; the restore below clears it on time.
	spec := fault.Spec{Kind: fault.KindBlackhole, Duration: (o.duration + 30*time.Second).String()}
	if err := o.local.call(ctx, http.MethodPost, "/fault", spec, &st); err != nil {
		stop()
		wg.Wait()
		return nil, fmt.Errorf("drill: cut the agent off: %w", err)
	}
	mu.Lock()
	rep.cut, phase = time.Now(), 1
	mu.Unlock()
	sleepCtx(ctx, o.duration)
	var cleared struct{ Cleared bool }
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	err = o.local.call(cctx, http.MethodDelete, "/fault", nil, &cleared)
	ccancel()
	if err != nil {
		rep.notes = append(rep.notes, "restore failed ("+err.Error()+"); the fault expires by itself at "+st.Expires.UTC().Format(time.RFC3339))
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
			if !inc.Started.After(rep.cut.Add(time.Second)) && (inc.Ended == nil || inc.Ended.After(rep.cut)) {
				rep.incident = &inc
				break
			}
		}
		if rep.incident == nil || !rep.incident.Open() || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
	rep.pass = rep.failed == 0 && rep.attempts > 0 && rep.freshAgain
	return rep, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
