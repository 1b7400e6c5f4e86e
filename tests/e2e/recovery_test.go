package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/testproc"
)

// recoveryFlags make the server snapshot (and truncate its log) after a
// few entries, so a data dir holds a state machine, a snapshot and a log
// that starts after index 1.
var recoveryFlags = []string{"--snapshot-threshold", "16", "--trailing-logs", "16", "--snapshot-interval", "100ms"}

// fixture is a stopped server's data dir with known parameters.
type fixture struct {
	dir    string
	params map[string]string // name -> value (SecureStrings decrypted)
	creds  []byte            // root-credentials as first written
}

// makeFixture runs a server on a new data dir, writes String and
// SecureString parameters until raft has taken a snapshot and truncated its
// log, and stops it cleanly (SIGTERM).
func makeFixture(t *testing.T) fixture {
	t.Helper()
	f := fixture{dir: t.TempDir(), params: map[string]string{}}
	srv := startServer(t, f.dir, recoveryFlags...)
	c := srv.SSM()
	ctx := context.Background()
	put := func(i int) {
		name, typ := fmt.Sprintf("/fixture/p%03d", i), types.ParameterTypeString
		if i%3 == 0 {
			typ = types.ParameterTypeSecureString
		}
		value := fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", i%7))
		if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: typ, Overwrite: aws.Bool(true)}); err != nil {
			t.Fatalf("put %s: %v", name, err)
		}
		f.params[name] = value
	}
	i := 0
	for ; i < 40; i++ {
		put(i)
	}
	// Wait for raft's snapshot (taken every 16 entries, checked every
	// 100ms), then write a few entries that only the log holds.
	deadline := time.Now().Add(time.Minute)
	for {
		metas, _ := filepath.Glob(filepath.Join(f.dir, "raft", "snapshots", "*", "meta.json"))
		if len(metas) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("raft took no snapshot within a minute")
		}
		put(i)
		i++
	}
	for end := i + 3; i < end; i++ {
		put(i)
	}
	srv.Stop()
	var err error
	if f.creds, err = os.ReadFile(filepath.Join(f.dir, "root-credentials")); err != nil {
		t.Fatal(err)
	}
	return f
}

// clone copies the fixture's data dir into a new one.
func (f fixture) clone(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(f.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.dir, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), raw, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// client signs with the fixture's root key, whatever the data dir's
// root-credentials file holds now.
func (f fixture) client(t *testing.T, srv *testproc.Server) *ssm.Client {
	t.Helper()
	creds, err := testproc.ParseCredentials(f.creds)
	if err != nil {
		t.Fatalf("the fixture's root-credentials: %v", err)
	}
	return creds.SSM(srv.URL())
}

// checkServes asserts that the server serves every parameter of the
// fixture with its value, and takes a write that a read then sees.
func (f fixture) checkServes(t *testing.T, srv *testproc.Server) {
	t.Helper()
	c := f.client(t, srv)
	ctx := context.Background()
	for name, want := range f.params {
		out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
		if err != nil {
			t.Fatalf("GetParameter %s: %v", name, err)
		}
		if got := aws.ToString(out.Parameter.Value); got != want {
			t.Fatalf("%s: got %q, want %q", name, got, want)
		}
	}
	name := fmt.Sprintf("/fixture/new-%d", time.Now().UnixNano())
	if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("new"), Type: types.ParameterTypeString}); err != nil {
		t.Fatalf("write: %v", err)
	}
	out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	if err != nil || aws.ToString(out.Parameter.Value) != "new" {
		t.Fatalf("an acknowledged write is not served: %v %v", out, err)
	}
}

// runToExit runs `paramstore server` on dataDir and expects it to exit
// (refuse to start) by itself; it returns the exit code and the output.
func runToExit(t *testing.T, dataDir string, extra ...string) (int, string) {
	t.Helper()
	return testproc.RunToExit(t, time.Minute, nil, append([]string{"server", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, extra...)...)
}

// crashed reports Go's signs of a panic or a fatal error in output.
func crashed(output string) bool {
	for _, sign := range []string{"panic:", "goroutine ", "fatal error:", "SIGSEGV", "SIGBUS", "unexpected fault address"} {
		if strings.Contains(output, sign) {
			return true
		}
	}
	return false
}

// wantRefusal asserts that the server refuses dataDir: exit code 1, no
// crash, the output naming every file of files and containing every hint.
func wantRefusal(t *testing.T, dataDir string, files, hints []string, extra ...string) string {
	t.Helper()
	code, out := runToExit(t, dataDir, extra...)
	if code != 1 || crashed(out) {
		t.Fatalf("got exit code %d (crashed: %v), want a refusal with exit code 1:\n%s", code, crashed(out), out)
	}
	for _, s := range append(files, hints...) {
		if !strings.Contains(out, s) {
			t.Errorf("the refusal does not mention %q:\n%s", s, out)
		}
	}
	return out
}

// TestRecovery is the durability part of the hardening issue (item 5),
// through the built binary, on copies of one data dir:
//   - the raft log (wal/) and the snapshots gone, state.db present: the server used to
//     start and acknowledge writes it never applied; it refuses, naming the
//     files and --force-new-cluster, which then recovers every parameter;
//   - state.db gone: the server used to start empty and write a new root
//     key; it rebuilds the state from the snapshot and the log;
//   - the snapshots gone: the server used to panic ("log not found"); it
//     refuses, naming the log and the snapshots;
//   - state.db damaged after a crash: it refuses, naming state.db; moved
//     aside as the message says, the state is rebuilt.
func TestRecovery(t *testing.T) {
	f := makeFixture(t)
	raft := func(dir, name string) string { return filepath.Join(dir, "raft", name) }

	t.Run("raft log lost", func(t *testing.T) {
		dir := f.clone(t)
		os.RemoveAll(raft(dir, "wal"))
		os.RemoveAll(raft(dir, "snapshots"))
		wantRefusal(t, dir, []string{raft(dir, "state.db"), raft(dir, "raft.db"), raft(dir, "wal")}, []string{"--force-new-cluster", "never applied"})
		srv := startServer(t, dir, "--force-new-cluster")
		f.checkServes(t, srv)
		srv.Stop()
		// Then an ordinary restart.
		f.checkServes(t, startServer(t, dir))
		if got, _ := os.ReadFile(filepath.Join(dir, "root-credentials")); !bytes.Equal(got, f.creds) {
			t.Error("root-credentials changed")
		}
	})

	t.Run("state machine lost", func(t *testing.T) {
		dir := f.clone(t)
		os.Remove(raft(dir, "state.db"))
		srv := startServer(t, dir)
		f.checkServes(t, srv)
		if got, _ := os.ReadFile(filepath.Join(dir, "root-credentials")); !bytes.Equal(got, f.creds) {
			t.Error("the server wrote a new root key: root-credentials changed")
		}
		if !strings.Contains(srv.Output(), "rebuilt the state machine from the snapshot") {
			t.Error("no log line says the state machine was rebuilt")
		}
	})

	t.Run("snapshots lost", func(t *testing.T) {
		dir := f.clone(t)
		os.RemoveAll(raft(dir, "snapshots"))
		wantRefusal(t, dir, []string{raft(dir, "wal"), raft(dir, "snapshots")}, []string{"--force-new-cluster"})
		f.checkServes(t, startServer(t, dir, "--force-new-cluster"))
	})

	t.Run("state machine damaged after a crash", func(t *testing.T) {
		dir := f.clone(t)
		// No clean-shutdown record: the files are checked for damage.
		os.Remove(raft(dir, "clean-shutdown.json"))
		path := raft(dir, "state.db")
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// Every page after the two meta pages zeroed (writes the disk
		// lost): bbolt panics, in a goroutine of its own, opening this.
		clear(raw[2*4096:])
		os.WriteFile(path, raw, 0o600)
		wantRefusal(t, dir, []string{path}, []string{"damaged", "mv " + path})
		if err := os.Rename(path, path+".corrupt"); err != nil {
			t.Fatal(err)
		}
		f.checkServes(t, startServer(t, dir))
	})
}

// TestDataDirFlips flips bytes in each file of a stopped server's data dir
// (or truncates it) and starts the server on it: it either starts and
// serves every parameter with its value and takes writes, or refuses with
// exit code 1 and a message naming the file; it never crashes. One seed per
// file; PARAMSTORE_FLIP_SEEDS=N runs N.
func TestDataDirFlips(t *testing.T) {
	seeds := 1
	if s := os.Getenv("PARAMSTORE_FLIP_SEEDS"); s != "" {
		fmt.Sscan(s, &seeds)
	}
	f := makeFixture(t)
	var files []string
	filepath.WalkDir(f.dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(f.dir, path)
			files = append(files, rel)
		}
		return nil
	})
	t.Logf("files: %v", files)
	var started, refused int
	for _, rel := range files {
		for seed := range seeds {
			t.Run(fmt.Sprintf("%s/%d", rel, seed), func(t *testing.T) {
				dir := f.clone(t)
				path := filepath.Join(dir, rel)
				raw, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				// Seed 0 of every file flips 8 bytes at places drawn from
				// the file's name; odd seeds truncate, even ones flip.
				h := uint64(seed + 1)
				for _, c := range rel {
					h = h*1099511628211 + uint64(c)
				}
				next := func(n int) int {
					h ^= h << 13
					h ^= h >> 7
					h ^= h << 17
					return int(h % uint64(n))
				}
				what := "flipped 8 bytes"
				if len(raw) == 0 {
					t.Skip("empty file")
				}
				if seed%2 == 1 {
					raw = raw[:next(len(raw))]
					what = fmt.Sprintf("truncated to %d bytes", len(raw))
				} else {
					for range 8 {
						raw[next(len(raw))] ^= byte(1 + next(255))
					}
				}
				if err := os.WriteFile(path, raw, 0o600); err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: %s", rel, what)
				srv, code, out := tryStart(t, dir)
				if srv == nil {
					if code != 1 || crashed(out) {
						t.Fatalf("%s %s: exit code %d (crashed: %v), want a refusal with exit code 1:\n%s", rel, what, code, crashed(out), out)
					}
					if !strings.Contains(out, filepath.Base(rel)) {
						t.Fatalf("%s %s: the refusal does not name the file:\n%s", rel, what, out)
					}
					refused++
					return
				}
				f.checkServes(t, srv)
				if crashed(srv.Output()) {
					t.Fatalf("%s %s: the server's log shows a crash:\n%s", rel, what, srv.Output())
				}
				started++
			})
		}
	}
	t.Logf("%d starts served every parameter, %d refused with the file named", started, refused)
}

// tryStart starts the server on dataDir: it returns the running server, or
// the exit code and output of one that exited instead.
func tryStart(t *testing.T, dataDir string) (*testproc.Server, int, string) {
	t.Helper()
	srv := startServerOrExit(t, dataDir)
	if srv.Exited() {
		return nil, srv.ExitCode(), srv.Output()
	}
	return srv, 0, ""
}

// TestRaftLogFormat: through the binary, a new data dir gets the WAL
// (raft/wal/), one made with --raft-log bolt keeps raft.db when started
// without the flag, and the refusals (the other format asked for, both
// logs present) exit with code 1 naming the files, with nothing changed.
func TestRaftLogFormat(t *testing.T) {
	ctx := t.Context()
	put := func(srv *testproc.Server, name string) {
		t.Helper()
		if _, err := srv.SSM().PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v"), Type: types.ParameterTypeString}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(srv *testproc.Server, name string) {
		t.Helper()
		if _, err := srv.SSM().GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)}); err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
	}
	exists := func(path string) bool { _, err := os.Stat(path); return err == nil }

	fresh := t.TempDir()
	srv := startServer(t, fresh)
	put(srv, "/fmt/wal")
	srv.Stop()
	if !exists(filepath.Join(fresh, "raft", "wal", "wal-meta.db")) || exists(filepath.Join(fresh, "raft", "raft.db")) {
		t.Fatal("a new data dir did not get the WAL alone")
	}
	wantRefusal(t, fresh, []string{filepath.Join(fresh, "raft", "wal")}, []string{"--raft-log bolt"}, "--raft-log", "bolt")

	old := t.TempDir()
	srv = startServer(t, old, "--raft-log", "bolt")
	put(srv, "/fmt/bolt")
	srv.Stop()
	srv = startServer(t, old)
	get(srv, "/fmt/bolt")
	put(srv, "/fmt/bolt2")
	srv.Stop()
	if exists(filepath.Join(old, "raft", "wal")) {
		t.Fatal("a start without --raft-log made a wal/ beside raft.db")
	}
	raftDB := filepath.Join(old, "raft", "raft.db")
	wantRefusal(t, old, []string{raftDB}, []string{"--raft-log wal", "To fix"}, "--raft-log", "wal")
	if err := os.Mkdir(filepath.Join(old, "raft", "wal"), 0o700); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, old, []string{raftDB, filepath.Join(old, "raft", "wal")}, []string{"two raft logs", "To fix"})
	os.Remove(filepath.Join(old, "raft", "wal"))
	srv = startServer(t, old)
	get(srv, "/fmt/bolt2")
	srv.Stop()
}
