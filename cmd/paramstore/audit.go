package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/paramstore/paramstore/internal/audit"
)

func newAuditCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Work with audit trail files",
	}
	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check the hash chain of an audit trail file",
		Long: `Check that every record of an audit trail file is intact: each record's hash
matches its contents, sequence numbers are consecutive and each previousHash
is the hash of the record before. Exits 1 and names the first bad line if not.

A file whose last records were removed whole still verifies; compare the last
hash printed with a copy kept elsewhere to detect that.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := audit.VerifyFile(args[0])
			if err != nil {
				if rep.Records > 0 {
					fmt.Fprintf(stdout, "FAILED: %d records intact before the problem, last hash %s\n", rep.Records, rep.LastHash)
				}
				return err
			}
			fmt.Fprintf(stdout, "ok: %d records, chain intact, last hash %s\n", rep.Records, rep.LastHash)
			return nil
		},
	}
	cmd.AddCommand(verify)
	return cmd
}
