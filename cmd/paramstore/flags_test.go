package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagsDoc is the flags reference; the tables between its markers are the
// flags of `paramstore server` and `paramstore agent` as their --help
// describes them.
const flagsDoc = "../../docs/flags.md"

// flagTable renders cmd's flags as a markdown table: name and type,
// default, and the --help text.
func flagTable(cmd *cobra.Command) string {
	var b strings.Builder
	b.WriteString("| flag | default | meaning |\n|---|---|---|\n")
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" {
			return
		}
		name := "`--" + f.Name
		if t := f.Value.Type(); t != "bool" {
			name += " " + t
		}
		name = strings.ReplaceAll(name+"`", "|", `\|`)
		def := f.DefValue
		switch {
		case def == "" || def == "[]" || (def == "false" && f.Value.Type() == "bool"):
			def = ""
		default:
			def = "`" + def + "`"
		}
		usage := strings.ReplaceAll(f.Usage, "|", `\|`)
		fmt.Fprintf(&b, "| %s | %s | %s |\n", name, def, usage)
	})
	return b.String()
}

// TestFlagsReference: docs/flags.md lists every flag of `paramstore
// server` and `paramstore agent` with the default and text of their
// --help. After changing a flag, regenerate the tables with
// PARAMSTORE_UPDATE_DOCS=1 go test -run TestFlagsReference ./cmd/paramstore.
func TestFlagsReference(t *testing.T) {
	raw, err := os.ReadFile(flagsDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for _, c := range []struct {
		name string
		cmd  *cobra.Command
	}{
		{"server", newServerCmd(io.Discard, io.Discard)},
		{"agent", newAgentCmd(io.Discard, io.Discard)},
	} {
		begin, end := "<!-- flags:"+c.name+" -->\n", "<!-- end flags:"+c.name+" -->"
		i, j := strings.Index(doc, begin), strings.Index(doc, end)
		if i < 0 || j < i {
			t.Fatalf("%s lacks the markers %q and %q", flagsDoc, begin, end)
		}
		want := flagTable(c.cmd)
		if got := doc[i+len(begin) : j]; got != want {
			if os.Getenv("PARAMSTORE_UPDATE_DOCS") != "" {
				doc = doc[:i+len(begin)] + want + doc[j:]
				continue
			}
			t.Errorf("%s: the %s flags differ from `paramstore %s --help`; regenerate with PARAMSTORE_UPDATE_DOCS=1 go test -run TestFlagsReference ./cmd/paramstore\nwant:\n%s", flagsDoc, c.name, c.name, want)
		}
	}
	if os.Getenv("PARAMSTORE_UPDATE_DOCS") != "" && doc != string(raw) {
		if err := os.WriteFile(flagsDoc, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuditRetainFlag: --audit-retain takes a count, an age or both, and
// refuses anything else with the forms it takes.
func TestAuditRetainFlag(t *testing.T) {
	for in, want := range map[string]string{"8": "8", "30d": "30d", "8,30d": "8,30d", "720h": "30d", "0": "0"} {
		cmd := newServerCmd(io.Discard, io.Discard)
		if err := cmd.Flags().Parse([]string{"--audit-retain", in}); err != nil {
			t.Errorf("--audit-retain %s: %v", in, err)
			continue
		}
		if got := cmd.Flags().Lookup("audit-retain").Value.String(); got != want {
			t.Errorf("--audit-retain %s = %s, want %s", in, got, want)
		}
	}
	cmd := newServerCmd(io.Discard, io.Discard)
	err := cmd.Flags().Parse([]string{"--audit-retain", "30 days"})
	if err == nil || !strings.Contains(err.Error(), "want a number of files (30), an age (30d, 720h) or both (30,90d)") {
		t.Errorf("--audit-retain '30 days' = %v, want an error naming the forms", err)
	}
}

// TestRaftMultiplierFlag: --raft-multiplier N sets raft's three timings to
// N times their defaults, and refuses anything but 1 to 10.
func TestRaftMultiplierFlag(t *testing.T) {
	cmd := newServerCmd(io.Discard, io.Discard)
	if err := cmd.Flags().Parse([]string{"--raft-multiplier", "4"}); err != nil {
		t.Fatal(err)
	}
	c := cmd.Flags().Lookup("raft-multiplier").Value.(*raftMultiplierFlag).c
	if got, want := fmt.Sprint(c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout), "2s 2s 1s"; got != want {
		t.Errorf("--raft-multiplier 4: heartbeat, election and lease timeouts %s, want %s", got, want)
	}
	if err := c.ValidateSettings(); err != nil {
		t.Errorf("--raft-multiplier 4: %v", err)
	}
	for _, bad := range []string{"0", "11", "-1", "1.5", "x"} {
		cmd := newServerCmd(io.Discard, io.Discard)
		err := cmd.Flags().Parse([]string{"--raft-multiplier", bad})
		if err == nil || !strings.Contains(err.Error(), "want a whole number from 1 to 10") {
			t.Errorf("--raft-multiplier %s: got %v, want a refusal naming the range", bad, err)
		}
	}
}
