package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/paramstore/paramstore/internal/bytesize"
	"github.com/paramstore/paramstore/internal/store/raftstore"
)

func newCompactCmd(stdout io.Writer) *cobra.Command {
	dataDir := "./paramstore-data"
	cmd := &cobra.Command{
		Use:   "compact",
		Short: "Compact state.db and raft.db of a stopped node's data directory",
		Long: `Rewrite state.db (the state machine) and raft.db (the raft log) of a data
directory so that they hold only live pages. bbolt files never shrink: they
keep the size of their largest moment (raft.db that of the longest log before
a snapshot truncated it), and reuse that space without returning it.

Run it on a stopped node: it refuses while a server holds the files. Each file
is checked first, compacted into a temporary file that is checked again and
must hold the same keys, then renamed over the original; a crash leaves the
original or the whole copy. In a cluster, compact one node at a time (stop it,
compact, start it, wait until it has caught up) so that a quorum always runs;
see docs/operations.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := raftstore.Compact(cmd.Context(), filepath.Join(dataDir, "raft"), fileChecker())
			for _, r := range res {
				if r.Kept {
					fmt.Fprintf(stdout, "%s: %s, kept: a compacted copy is not smaller (%d keys)\n", r.Name, bytesize.Format(r.Before), r.Keys)
					continue
				}
				fmt.Fprintf(stdout, "%s: %s -> %s (%d keys)\n", r.Name, bytesize.Format(r.Before), bytesize.Format(r.After), r.Keys)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, "ok: compacted and verified")
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", dataDir, "data directory of the stopped node")
	return cmd
}
