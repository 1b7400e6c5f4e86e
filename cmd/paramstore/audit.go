package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/paramstore/paramstore/internal/audit"
)

func newAuditCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Work with audit trail files",
	}
	verify := &cobra.Command{
		Use:   "verify DIR|FILE",
		Short: "Check the hash chain of an audit trail, across its rotated files",
		Long: `Check that every record of an audit trail is intact: each record's hash
matches its contents, sequence numbers are consecutive and each previousHash
is the hash of the record before, and every file ends with a complete line.

A trail is its active file (audit.log) and the files rotated out of it
(audit.log.<first sequence>-<time>.gz, compressed). Given a directory, verify
checks the trail DIR/audit.log; given a file (the active file under any name,
or one of its rotated files), the trail it belongs to. The files are read in
order as one chain: each must start where the file before ended. A deleted
middle file is reported as "missing records", a file cut short as
"truncated", renamed or reordered files as "file out of order". The trail may
start after sequence 1 only where the server removed older files beyond
--audit-retain (by count or age): it records each removal in the trail before it removes the
file, and verify prints a note for each.

Exits 1 and names the first bad file and line if the chain breaks.

When the server reopens a trail whose last line was torn, it moves the torn
bytes to FILE.torn-<time> and records that in the chain (an
AuditTrailTornRecord event); verify prints a warning for each such record.

A trail whose last records were removed whole still verifies; compare the last
hash printed with a copy kept elsewhere to detect that.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := trailPath(args[0])
			rep, err := audit.VerifyTrail(path)
			if len(rep.Files) > 1 || err != nil {
				for _, f := range rep.Files {
					if f.Records == 0 {
						fmt.Fprintf(stdout, "%s: empty\n", filepath.Base(f.Path))
						continue
					}
					fmt.Fprintf(stdout, "%s: records %d-%d\n", filepath.Base(f.Path), f.FirstSequence, f.LastSequence)
				}
			}
			for _, rd := range rep.Removed {
				fmt.Fprintf(stdout, "note: records %d-%d were in %s, removed by retention (recorded in the trail)\n", rd.FirstSequence, rd.LastSequence, rd.File)
			}
			for _, tr := range rep.Torn {
				fmt.Fprintf(stdout, "warning: line %d of %s: a torn record (sequence %d, %d bytes, sha256 %s) was cut from the trail at a restart; its bytes are in %s\n",
					tr.Line, tr.InFile, tr.Sequence, tr.Bytes, tr.SHA256, tr.File)
			}
			if err != nil {
				if rep.Records > 0 {
					fmt.Fprintf(stdout, "FAILED: %d records intact before the problem, last hash %s\n", rep.Records, rep.LastHash)
				}
				return err
			}
			if len(rep.Files) > 1 || rep.FirstSequence > 1 {
				fmt.Fprintf(stdout, "ok: %d records in %d files (sequence %d-%d), chain intact, last hash %s\n",
					rep.Records, len(rep.Files), rep.FirstSequence, rep.LastSequence, rep.LastHash)
			} else {
				fmt.Fprintf(stdout, "ok: %d records, chain intact, last hash %s\n", rep.Records, rep.LastHash)
			}
			return nil
		},
	}
	cmd.AddCommand(verify)
	return cmd
}

// trailPath is the active file of the trail that arg names: DIR/audit.log
// for a directory, the active file of a rotated file, or arg itself.
func trailPath(arg string) string {
	if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
		return filepath.Join(arg, "audit.log")
	}
	return audit.ActivePath(arg)
}
