package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/paramstore/paramstore/internal/atomicfile"
	"github.com/paramstore/paramstore/internal/store"
)

type member struct {
	ID       string `json:"NodeId"`
	RaftAddr string `json:"RaftAddress"`
	APIAddr  string `json:"ApiAddress"`
	Suffrage string `json:"Suffrage"`
	Leader   bool   `json:"Leader"`
}

func newClusterCmd(stdout io.Writer) *cobra.Command {
	var flags connFlags
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Manage the raft cluster: members, leadership, the cluster key",
	}
	flags.register(cmd.PersistentFlags(), "")
	call := func(cmd *cobra.Command, op string, in, out any) error {
		c, err := flags.admin(cmd.Context())
		if err != nil {
			return err
		}
		return c.call(cmd.Context(), op, in, out)
	}
	keygen := &cobra.Command{
		Use:   "keygen",
		Short: "Print a new random cluster key (give every node the same file with --cluster-key-file)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(b))
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the members and the leader",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct{ Members []member }
			if err := call(cmd, "ListNodes", struct{}{}, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tSUFFRAGE\tLEADER\tRAFT ADDRESS\tAPI ADDRESS")
			for _, m := range out.Members {
				leader := ""
				if m.Leader {
					leader = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.ID, m.Suffrage, leader, m.RaftAddr, m.APIAddr)
			}
			return tw.Flush()
		},
	}
	remove := &cobra.Command{
		Use:   "remove NODE-ID",
		Short: "Remove a member (a dead node, or one leaving); send it to the leader",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd, "RemoveNode", map[string]string{"NodeId": args[0]}, nil)
		},
	}
	transfer := &cobra.Command{
		Use:   "transfer-leader [NODE-ID]",
		Short: "Hand leadership to a node (or the most up-to-date follower); send it to the leader",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := map[string]string{}
			if len(args) == 1 {
				in["NodeId"] = args[0]
			}
			return call(cmd, "TransferLeadership", in, nil)
		},
	}
	cmd.AddCommand(keygen, list, remove, transfer)
	return cmd
}

func newSnapshotCmd(stdout io.Writer) *cobra.Command {
	var flags connFlags
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Back up a running cluster's state, or restore a backup into a new data dir",
	}
	flags.register(cmd.PersistentFlags(), "")
	save := &cobra.Command{
		Use:   "save FILE",
		Short: "Save a consistent snapshot of the whole state (needs paramstore:SaveSnapshot)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := flags.admin(cmd.Context())
			if err != nil {
				return err
			}
			return saveSnapshot(cmd.Context(), c, args[0], stdout, fileChecker())
		},
	}
	var dataDir string
	restore := &cobra.Command{
		Use:   "restore FILE --data-dir DIR",
		Short: "Write a snapshot into a new, empty data dir; start a server on it to bootstrap a new cluster with that state",
		Long: `Write a snapshot into a new, empty data dir. Start one server on it (with the
master key of the original cluster: copy master.key into the data dir or use
--master-key-file): it bootstraps a new cluster with the restored state, and
other nodes join it. Identities and their keys are restored too.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return restoreSnapshot(cmd.Context(), args[0], dataDir, stdout, fileChecker())
		},
	}
	restore.Flags().StringVar(&dataDir, "data-dir", "", "the new data dir (must not hold a store)")
	restore.MarkFlagRequired("data-dir")
	cmd.AddCommand(save, restore)
	return cmd
}

func saveSnapshot(ctx context.Context, c *adminClient, path string, stdout io.Writer, check store.Checker) error {
	req, err := c.signer.Get(ctx, strings.TrimRight(c.endpoint, "/")+"/_paramstore/snapshot")
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("snapshot: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	f, err := atomicfile.Create(path, 0o600)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer f.Cleanup()
	n, err := io.Copy(f, resp.Body)
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	// A truncated stream does not check as a database: check before keeping it.
	if _, err := checkSnapshotFile(ctx, check, f.Name()); err != nil {
		return fmt.Errorf("snapshot: the received copy is not usable (%w)", err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	fmt.Fprintf(stdout, "saved %d bytes at applied index %s to %s\n", n, resp.Header.Get("X-Paramstore-Applied-Index"), path)
	return nil
}

// checkSnapshotFile checks that path is an intact state machine of this
// version's schema.
func checkSnapshotFile(ctx context.Context, check store.Checker, path string) (store.FileInfo, error) {
	info, err := check(ctx, path)
	if err != nil {
		return info, err
	}
	if !info.StateMachine {
		return info, fmt.Errorf("%s is a bbolt file but not a Paramstore snapshot", path)
	}
	if info.Schema != store.SchemaVersion {
		return info, fmt.Errorf("%s has schema version %q, this paramstore reads %q", path, info.Schema, store.SchemaVersion)
	}
	return info, nil
}

// restoreSnapshot writes a snapshot into a new data dir: it checks the
// file, copies it to a temporary file next to its destination, prepares the
// copy for a new cluster, and renames it into place only then. A failure
// leaves the data dir without a state.db.
func restoreSnapshot(ctx context.Context, path, dataDir string, stdout io.Writer, check store.Checker) error {
	if dataDir == "" {
		return errors.New("--data-dir is required")
	}
	raftDir := filepath.Join(dataDir, "raft")
	for _, name := range []string{"raft.db", "wal", "state.db"} {
		if _, err := os.Stat(filepath.Join(raftDir, name)); err == nil {
			return fmt.Errorf("%s already holds a store (%s): restore into a new, empty data dir", dataDir, filepath.Join(raftDir, name))
		}
	}
	if _, err := checkSnapshotFile(ctx, check, path); err != nil {
		return fmt.Errorf("snapshot restore: %s is not a usable snapshot: %w", path, err)
	}
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		return err
	}
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	statePath := filepath.Join(raftDir, "state.db")
	f, err := atomicfile.Create(statePath, 0o600)
	if err != nil {
		return fmt.Errorf("snapshot restore: %w", err)
	}
	defer f.Cleanup()
	_, err = io.Copy(f, src)
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		return fmt.Errorf("snapshot restore: copy: %w", err)
	}
	// The copy is what the server will open: check it, not the source.
	if _, err := checkSnapshotFile(ctx, check, f.Name()); err != nil {
		return fmt.Errorf("snapshot restore: the copy in %s is not usable: %w", raftDir, err)
	}
	db, err := store.Open(f.Name())
	if err != nil {
		return err
	}
	// The new cluster's raft log starts again at index 1.
	if err := db.ResetAppliedIndex(); err != nil {
		db.Close()
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("snapshot restore: %w", err)
	}
	fmt.Fprintf(stdout, "restored %s into %s; start `paramstore server --data-dir %s` with the original master key\n", path, dataDir, dataDir)
	return nil
}
