package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// notifyInfo is a subscription as ListNotifications describes it (the CLI
// imports no server package).
type notifyInfo struct {
	Name          string   `json:"Name"`
	URL           string   `json:"Url"`
	Path          string   `json:"Path,omitempty"`
	DetailType    string   `json:"DetailType,omitempty"`
	Delivered     uint64   `json:"Delivered"`
	Failed        uint64   `json:"FailedAttempts"`
	DeadLettered  uint64   `json:"DeadLettered"`
	DeadLetterIDs []string `json:"DeadLetterIds,omitempty"`
	LastError     string   `json:"LastError,omitempty"`
	Pending       int      `json:"Pending"`
	LagSeconds    float64  `json:"LagSeconds"`
	Position      string   `json:"Position"`
	State         string   `json:"State"`
}

func newNotifyCmd(stdout io.Writer) *cobra.Command {
	var flags adminFlags
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Manage webhooks: signed POSTs of EventBridge-shaped events of parameter changes and policies",
	}
	flags.register(cmd)

	var url, secretFile, path, detailType, caFile string
	add := &cobra.Command{
		Use:   "add NAME --url URL [--secret-file F] [--path P] [--detail-type T]",
		Short: "Subscribe a receiver; without --secret-file a secret is generated and printed once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := map[string]string{"Name": args[0], "Url": url, "Path": path, "DetailType": detailType}
			if secretFile != "" {
				raw, err := os.ReadFile(secretFile)
				if err != nil {
					return fmt.Errorf("--secret-file: %w", err)
				}
				secret := strings.TrimRight(string(raw), "\r\n")
				if secret == "" {
					return fmt.Errorf("--secret-file %s is empty", secretFile)
				}
				in["Secret"] = secret
			}
			if caFile != "" {
				raw, err := os.ReadFile(caFile)
				if err != nil {
					return fmt.Errorf("--ca-file: %w", err)
				}
				in["CaBundle"] = string(raw)
			}
			c, err := flags.client(cmd.Context())
			if err != nil {
				return err
			}
			var out struct {
				Subscription    notifyInfo
				GeneratedSecret string
			}
			if err := c.call(cmd.Context(), "PutNotification", in, &out); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "subscribed %s -> %s\n", out.Subscription.Name, out.Subscription.URL)
			if out.GeneratedSecret != "" {
				fmt.Fprintf(stdout, "secret (shown once; verify X-Paramstore-Signature with it): %s\n", out.GeneratedSecret)
			}
			return nil
		},
	}
	add.Flags().StringVar(&url, "url", "", "receiver URL (http or https)")
	add.Flags().StringVar(&secretFile, "secret-file", "", "file holding the HMAC secret of the signatures")
	add.Flags().StringVar(&path, "path", "", "only parameters at or under this path")
	add.Flags().StringVar(&detailType, "detail-type", "", `only "Parameter Store Change", "Parameter Store Policy Action" or "Paramstore Incident"`)
	add.Flags().StringVar(&caFile, "ca-file", "", "PEM bundle trusted for an https receiver, besides the system roots")

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List subscriptions with their delivery state (failures, last error, lag, dead letters)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := flags.client(cmd.Context())
			if err != nil {
				return err
			}
			var out struct{ Subscriptions []notifyInfo }
			if err := c.call(cmd.Context(), "ListNotifications", struct{}{}, &out); err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out.Subscriptions)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATE\tDELIVERED\tFAILED\tDEAD\tPENDING\tLAG\tURL\tLAST ERROR")
			for _, s := range out.Subscriptions {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%.0fs\t%s\t%s\n", s.Name, s.State, s.Delivered, s.Failed,
					s.DeadLettered, s.Pending, s.LagSeconds, s.URL, s.LastError)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "machine output")

	remove := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a subscription (its undelivered events are dropped)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := flags.client(cmd.Context())
			if err != nil {
				return err
			}
			return c.call(cmd.Context(), "DeleteNotification", map[string]string{"Name": args[0]}, nil)
		},
	}
	test := &cobra.Command{
		Use:   "test NAME",
		Short: "POST a signed test event to a subscription's receiver now and report its answer",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := flags.client(cmd.Context())
			if err != nil {
				return err
			}
			var out struct{ EventId, Status string }
			if err := c.call(cmd.Context(), "TestNotification", map[string]string{"Name": args[0]}, &out); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s\t%s\n", out.EventId, out.Status)
			if out.Status != "delivered" {
				return errors.New("the test event was not delivered")
			}
			return nil
		},
	}
	cmd.AddCommand(add, list, remove, test)
	return cmd
}
