package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/paramstore/paramstore/internal/fault"
	"github.com/paramstore/paramstore/internal/incident"
)

// localFlags are the connection flags of the commands that call an
// agent's token-protected local API, or a server's signed admin API
// (incidents, fault; drill's --agent).
type localFlags struct {
	conn  connFlags
	token string
}

// endpoint is the agent's or server's URL.
func (f *localFlags) endpoint() string { return f.conn.resolvedEndpoint() }

// isAgent reports whether the endpoint is an agent (its /healthz lists
// upstreams) rather than a server.
func (f *localFlags) isAgent(ctx context.Context) (bool, error) {
	hc, err := f.conn.httpClient(ctx, localTimeout)
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(f.endpoint(), "/")+"/healthz", nil)
	if err != nil {
		return false, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var h map[string]json.RawMessage
	if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&h) != nil {
		return false, nil
	}
	_, ok := h["upstreams"]
	return ok, nil
}

// admin returns the signed admin API client of a server endpoint.
func (f *localFlags) admin(ctx context.Context) (*adminClient, error) { return f.conn.admin(ctx) }

func (f *localFlags) register(cmd *cobra.Command) {
	p := cmd.PersistentFlags()
	f.conn.fallback = defaultAgentEndpoint
	f.conn.register(p, "")
	p.StringVar(&f.token, "token", "", "the agent's token (default $AWS_SESSION_TOKEN)")
}

func (f *localFlags) tokenValue() string {
	if f.token != "" {
		return f.token
	}
	return os.Getenv("AWS_SESSION_TOKEN")
}

// localTimeout bounds a call to an agent's local API.
const localTimeout = 30 * time.Second

// call sends method path with body (JSON of it, when not nil) to the
// agent and decodes the JSON answer into out.
func (f *localFlags) call(ctx context.Context, method, path string, body, out any) error {
	hc, err := f.conn.httpClient(ctx, localTimeout)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(f.endpoint(), "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("X-Aws-Parameters-Secrets-Token", f.tokenValue())
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Message != "" {
			return fmt.Errorf("%s %s: %s: %s", method, path, e.Type, e.Message)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return json.Unmarshal(raw, out)
}

type incidentList struct {
	Incidents []incident.Incident `json:"incidents"`
}

// incidents lists the endpoint's incidents: an agent's own, or a server's
// (the cluster's history and the node's own).
func (f *localFlags) incidents(ctx context.Context) (incidentList, error) {
	var out incidentList
	agent, err := f.isAgent(ctx)
	if err != nil {
		return out, err
	}
	if agent {
		return out, f.call(ctx, http.MethodGet, "/incidents", nil, &out)
	}
	ac, err := f.admin(ctx)
	if err != nil {
		return out, err
	}
	return out, ac.call(ctx, "ListIncidents", struct{}{}, &out)
}

func newIncidentsCmd(stdout io.Writer) *cobra.Command {
	var lf localFlags
	cmd := &cobra.Command{Use: "incidents", Short: "Incidents recorded by an agent or a server cluster (list, report)"}
	lf.register(cmd)
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List incidents, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := lf.incidents(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tSTARTED\tDURATION\tREQUESTS\tFAILED\tSTALE")
			now := time.Now()
			for _, inc := range out.Incidents {
				d := inc.Duration(now).Round(time.Second).String()
				if inc.Open() {
					d += " (open)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\n", inc.ID, inc.Kind, inc.Started.UTC().Format(time.RFC3339), d,
					inc.Impact.Requests, inc.Impact.Failed, inc.Impact.ServedStale)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "machine output")
	report := &cobra.Command{
		Use:   "report ID",
		Short: "Print the markdown post-incident report of an incident",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := lf.incidents(cmd.Context())
			if err != nil {
				return err
			}
			for _, inc := range out.Incidents {
				if inc.ID == args[0] {
					return incident.Report(stdout, inc, time.Now())
				}
			}
			return fmt.Errorf("no incident %q at %s", args[0], lf.endpoint())
		},
	}
	cmd.AddCommand(list, report)
	return cmd
}

func newFaultCmd(stdout io.Writer) *cobra.Command {
	var lf localFlags
	cmd := &cobra.Command{Use: "fault", Short: "Inject a time-boxed fault into a server or agent started with --enable-fault-injection"}
	lf.register(cmd)
	var spec fault.Spec
	var ops []string
	var latency, duration time.Duration
	inject := &cobra.Command{
		Use:   "inject",
		Short: "Inject a fault; it reverts by itself after --duration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec.Operations = ops
			spec.Duration = duration.String()
			if latency > 0 {
				spec.Latency = latency.String()
			}
			var st fault.Status
			agent, err := lf.isAgent(cmd.Context())
			if err != nil {
				return err
			}
			if agent {
				err = lf.call(cmd.Context(), http.MethodPost, "/fault", spec, &st)
			} else {
				var ac *adminClient
				if ac, err = lf.admin(cmd.Context()); err == nil {
					err = ac.call(cmd.Context(), "InjectFault", spec, &st)
				}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s; expires %s\n", fault.Describe(st.Spec), st.Expires.UTC().Format(time.RFC3339))
			return nil
		},
	}
	fl := inject.Flags()
	fl.StringVar(&spec.Kind, "kind", "", "latency, error, throttle or blackhole")
	fl.Float64Var(&spec.Rate, "rate", 1, "fraction of calls affected, 0..1")
	fl.DurationVar(&latency, "latency", 0, "delay of a latency fault (default 1s)")
	fl.StringSliceVar(&ops, "operations", nil, "only these operations (Op,...; default all)")
	fl.DurationVar(&duration, "duration", 0, "how long the fault lasts (required)")
	inject.MarkFlagRequired("kind")
	inject.MarkFlagRequired("duration")
	clr := &cobra.Command{
		Use:   "clear",
		Short: "Clear the active fault",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Cleared bool `json:"cleared"`
			}
			agent, err := lf.isAgent(cmd.Context())
			if err != nil {
				return err
			}
			if agent {
				err = lf.call(cmd.Context(), http.MethodDelete, "/fault", nil, &out)
			} else {
				var ac *adminClient
				if ac, err = lf.admin(cmd.Context()); err == nil {
					err = ac.call(cmd.Context(), "ClearFault", struct{}{}, &out)
				}
			}
			if err != nil {
				return err
			}
			if out.Cleared {
				fmt.Fprintln(stdout, "fault cleared")
			} else {
				fmt.Fprintln(stdout, "no fault was active")
			}
			return nil
		},
	}
	cmd.AddCommand(inject, clr)
	return cmd
}
