package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/paramstore/paramstore/client"
	"github.com/paramstore/paramstore/internal/agent"
	"github.com/paramstore/paramstore/internal/bundle"
)

func newExecCmd(stderr io.Writer) *cobra.Command {
	var (
		cf        clientFlags
		paths     []string
		logLevel  string
		logFormat string
	)
	cmd := &cobra.Command{
		Use:   "exec --path PATH [--path PATH...] -- CMD [ARGS...]",
		Short: "Run a command with the parameters under paths as environment variables",
		Long: `exec reads every parameter under each --path (recursively, decrypted)
and runs CMD with them as environment variables, named as chamber names
them: the name relative to the path, '/', '-' and '.' replaced by '_',
upper-cased (/app/prod/db-url under /app/prod is DB_URL). Later paths win
over earlier ones, and both win over the inherited environment. Reads go
through the resilient client, so with --cache-dir a command still starts
from the persistent cache when no upstream answers, and with --bundle
from a cold-start bundle when the cache lacks the path too. CMD replaces this
process, so its exit status is exec's.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(paths) == 0 {
				return errors.New("--path is required")
			}
			log, err := newLogger(stderr, logLevel, logFormat)
			if err != nil {
				return err
			}
			ccfg, err := cf.clientConfig(cmd.Context(), log, nil)
			if err != nil {
				return err
			}
			bundles, err := cf.loadBundles(log)
			if err != nil {
				return err
			}
			env, err := readEnv(cmd.Context(), ccfg, bundles, paths)
			if err != nil {
				return err
			}
			bin, err := exec.LookPath(args[0])
			if err != nil {
				return err
			}
			return syscall.Exec(bin, args, mergeEnv(os.Environ(), env))
		},
	}
	cmd.Flags().SetInterspersed(false)
	cf.register(cmd)
	cmd.Flags().StringArrayVar(&paths, "path", nil, "parameter path to export (repeatable; later paths win)")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "json or text")
	return cmd
}

// readEnv reads the parameters under paths through a client and returns
// them as KEY=VALUE, in path order. The client is closed (its persistent
// cache written) before returning.
func readEnv(ctx context.Context, cfg client.Config, bundles *bundle.Set, paths []string) (env []string, err error) {
	c, err := client.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := c.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	src := agent.WithBundles(c, bundles)
	for _, p := range paths {
		rs, err := src.GetByPath(ctx, p, true, true)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		for _, r := range rs {
			env = append(env, agent.EnvName(p, r.Name)+"="+r.Value)
		}
	}
	return env, nil
}

// mergeEnv returns base with the variables of add set, the last setting of
// each name winning, in base's order followed by new names.
func mergeEnv(base, add []string) []string {
	idx := map[string]int{}
	var out []string
	for _, kv := range append(append([]string(nil), base...), add...) {
		k, _ := splitEnv(kv)
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}
