package main

import (
	"fmt"
	"io"
	"text/tabwriter"

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
	var flags connFlags
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the keyring of a running server (the keys that encrypt SecureString values)",
	}
	flags.register(cmd.PersistentFlags(), "")

	var alias, description string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a named key; use its alias, ID or ARN as --key-id of put-parameter",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := flags.admin(cmd.Context())
			if err != nil {
				return err
			}
			var out struct{ Key keyInfo }
			in := map[string]string{"Alias": alias, "Description": description}
			if err := c.call(cmd.Context(), "CreateKey", in, &out); err != nil {
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
			c, err := flags.admin(cmd.Context())
			if err != nil {
				return err
			}
			var out struct{ Keys []keyInfo }
			if err := c.call(cmd.Context(), "ListKeys", struct{}{}, &out); err != nil {
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
