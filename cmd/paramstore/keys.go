package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

type keyInfo struct {
	KeyID       string `json:"KeyId"`
	Alias       string `json:"Alias"`
	ARN         string `json:"Arn"`
	Description string `json:"Description"`
	Enabled     bool   `json:"Enabled"`
}

func newKeysCmd(stdout io.Writer) *cobra.Command {
	var endpoint, region string
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the keyring of a running server (keys that encrypt SecureString values)",
	}
	cmd.PersistentFlags().StringVar(&endpoint, "endpoint", "http://127.0.0.1:4583", "server URL")
	cmd.PersistentFlags().StringVar(&region, "region", "us-east-1", "region whose keyring to use")
	client := &http.Client{Timeout: 30 * time.Second}

	var alias, description string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a named key; use its alias, ID or ARN as --key-id of put-parameter",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, _ := json.Marshal(map[string]string{"Region": region, "Alias": alias, "Description": description})
			resp, err := client.Post(strings.TrimRight(endpoint, "/")+"/_paramstore/keys", "application/json", bytes.NewReader(body))
			if err != nil {
				return err
			}
			var out struct{ Key keyInfo }
			if err := readAdmin(resp, &out); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", out.Key.KeyID, out.Key.Alias, out.Key.ARN)
			return nil
		},
	}
	create.Flags().StringVar(&alias, "alias", "", "alias of the key, e.g. alias/myapp")
	create.Flags().StringVar(&description, "description", "", "description")

	list := &cobra.Command{
		Use:   "list",
		Short: "List keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := client.Get(strings.TrimRight(endpoint, "/") + "/_paramstore/keys?region=" + url.QueryEscape(region))
			if err != nil {
				return err
			}
			var out struct{ Keys []keyInfo }
			if err := readAdmin(resp, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY ID\tALIAS\tENABLED\tARN")
			for _, k := range out.Keys {
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", k.KeyID, k.Alias, k.Enabled, k.ARN)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(create, list)
	return cmd
}

func readAdmin(resp *http.Response, out any) error {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e map[string]string
		json.Unmarshal(body, &e)
		msg := e["Message"]
		if msg == "" {
			msg = e["message"]
		}
		return fmt.Errorf("%s: %s", e["__type"], msg)
	}
	return json.Unmarshal(body, out)
}
