package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/spf13/cobra"

	"github.com/paramstore/paramstore/client"
	"github.com/paramstore/paramstore/internal/bundle"
)

func newBundleCmd(stdout io.Writer) *cobra.Command {
	var conn connFlags
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Encrypted snapshots of parameters for agents' cold start (create, inspect)",
	}
	conn.register(cmd.PersistentFlags(), "")
	var (
		paths   []string
		keyFile string
		out     string
	)
	create := &cobra.Command{
		Use:   "create --path P [--path P2...] --key-file K --out FILE",
		Short: "Write an AES-256-GCM bundle of the current values under paths (SecureStrings decrypted)",
		Long: `create reads every parameter under each --path (recursively, SecureStrings
decrypted with the caller's rights) and writes them, with the creation
time and the source endpoint, to FILE encrypted with AES-256-GCM under the
32-byte key in K (raw, or base64). The key is never written to the
bundle. Make a key with: head -c 32 /dev/urandom > bundle.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(paths) == 0 || keyFile == "" || out == "" {
				return errors.New("--path, --key-file and --out are required")
			}
			key, err := client.LoadKey("file:" + keyFile)
			if err != nil {
				return fmt.Errorf("--key-file: %w", err)
			}
			c, region, err := conn.ssmClient(cmd.Context(), 10)
			if err != nil {
				return err
			}
			b := &bundle.Bundle{Created: time.Now().UTC(), Source: conn.resolvedEndpoint(), Region: region, Paths: paths}
			seen := map[string]bool{}
			for _, p := range paths {
				ps, err := readPath(cmd.Context(), c, p, true, nil)
				if err != nil {
					return err
				}
				for _, p := range ps {
					if seen[p.Name] {
						continue
					}
					seen[p.Name] = true
					b.Parameters = append(b.Parameters, p)
				}
			}
			if err := bundle.Write(out, b, key); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "wrote %s: %d parameters under %s from %s\n", out, len(b.Parameters), strings.Join(paths, ", "), conn.resolvedEndpoint())
			return nil
		},
	}
	create.Flags().StringArrayVar(&paths, "path", nil, "parameter path to bundle (repeatable)")
	create.Flags().StringVar(&keyFile, "key-file", "", "file of the 32-byte key (raw or base64)")
	create.Flags().StringVar(&out, "out", "", "bundle file to write (replaced atomically, mode 0600)")

	var (
		inspectKey string
		asJSON     bool
	)
	inspect := &cobra.Command{
		Use:   "inspect FILE --key-file K",
		Short: "Check a bundle and list its names, types, versions and age (never values)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if inspectKey == "" {
				return errors.New("--key-file is required")
			}
			key, err := client.LoadKey("file:" + inspectKey)
			if err != nil {
				return fmt.Errorf("--key-file: %w", err)
			}
			b, err := bundle.Open(args[0], key)
			if err != nil {
				return err
			}
			return printBundle(stdout, b, asJSON, time.Now())
		},
	}
	inspect.Flags().StringVar(&inspectKey, "key-file", "", "file of the 32-byte key (raw or base64)")
	inspect.Flags().BoolVar(&asJSON, "json", false, "machine output")
	cmd.AddCommand(create, inspect)
	return cmd
}

// printBundle lists b without any value.
func printBundle(w io.Writer, b *bundle.Bundle, asJSON bool, now time.Time) error {
	age := now.Sub(b.Created).Truncate(time.Second)
	if asJSON {
		type entry struct {
			Name             string    `json:"name"`
			Type             string    `json:"type"`
			Version          int64     `json:"version"`
			LastModifiedDate time.Time `json:"last_modified,omitzero"`
		}
		out := struct {
			Created    time.Time `json:"created"`
			AgeSeconds int64     `json:"age_seconds"`
			Source     string    `json:"source"`
			Region     string    `json:"region,omitempty"`
			Paths      []string  `json:"paths"`
			Parameters []entry   `json:"parameters"`
		}{b.Created, int64(age / time.Second), b.Source, b.Region, b.Paths, []entry{}}
		for _, p := range b.Parameters {
			out.Parameters = append(out.Parameters, entry{p.Name, p.Type, p.Version, p.LastModifiedDate})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(w, "created %s (age %s)\nsource  %s %s\npaths   %s\n%d parameters\n",
		b.Created.Format(time.RFC3339), age, b.Source, b.Region, strings.Join(b.Paths, ", "), len(b.Parameters))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tVERSION\tLAST MODIFIED")
	for _, p := range b.Parameters {
		mod := ""
		if !p.LastModifiedDate.IsZero() {
			mod = p.LastModifiedDate.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", p.Name, p.Type, p.Version, mod)
	}
	return tw.Flush()
}

// readPath reads the parameters under path (decrypted) page by page;
// onPage, if set, is called after each page with the running count.
func readPath(ctx context.Context, c *ssm.Client, path string, recursive bool, onPage func(n int)) ([]bundle.Parameter, error) {
	var out []bundle.Parameter
	pg := ssm.NewGetParametersByPathPaginator(c, &ssm.GetParametersByPathInput{
		Path: aws.String(path), Recursive: aws.Bool(recursive), WithDecryption: aws.Bool(true), MaxResults: aws.Int32(10),
	})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		for _, p := range page.Parameters {
			out = append(out, bundle.Parameter{
				Name: aws.ToString(p.Name), Type: string(p.Type), Value: aws.ToString(p.Value), Version: p.Version,
				ARN: aws.ToString(p.ARN), DataType: aws.ToString(p.DataType), LastModifiedDate: aws.ToTime(p.LastModifiedDate),
			})
		}
		if onPage != nil {
			onPage(len(out))
		}
	}
	return out, nil
}
