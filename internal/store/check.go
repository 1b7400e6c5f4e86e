package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Checking files that may be corrupt.
//
// bbolt trusts its pages. A corrupt page makes it panic in goroutines of
// its own (the free-page scan of Open, Tx.Check), where no recover can
// reach; a wild page ID points outside the mapping and faults (SIGSEGV or
// SIGBUS), which Go turns into a fatal error unless the faulting goroutine
// asked for a panic with debug.SetPanicOnFault; a page that refers to its
// own ancestor recurses until the stack overflows. None of these can be
// caught in the process that hits them. So a bbolt file that is not known
// to be intact (after a crash, a file received from elsewhere) is opened
// first by a Checker, which the server runs in a child process
// (ExecChecker): the child's crash is the report that the file is corrupt.

// ErrCorrupt is wrapped by the errors of a check that found a file damaged
// (as opposed to one that could not read it at all).
var ErrCorrupt = errors.New("store: corrupt file")

// FileInfo is what a check learned about a bbolt file.
type FileInfo struct {
	Size int64 `json:"size"`
	// StateMachine reports the meta bucket of a state machine (state.db or
	// a snapshot of it); the fields below are read from it.
	StateMachine bool   `json:"stateMachine"`
	Schema       string `json:"schema,omitempty"`
	Applied      uint64 `json:"applied"`
	AppliedTerm  uint64 `json:"appliedTerm"`
}

// A Checker opens the bbolt file at path read-only and checks its
// consistency (every page reachable exactly once, keys in order, free list
// consistent). It returns an error wrapping ErrCorrupt when the file is
// damaged, and another error when it could not be read.
type Checker func(ctx context.Context, path string) (FileInfo, error)

// CheckFile is the check itself, for the process that runs it: see
// Checker. It recovers a panic of the calling goroutine and turns a fault
// into one, but cannot recover from a crash in bbolt's own goroutines: run
// it in a process of its own (RunCheck, ExecChecker) on untrusted files.
func CheckFile(path string) (info FileInfo, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: bbolt panicked: %v", ErrCorrupt, path, r)
		}
	}()
	st, err := os.Stat(path)
	if err != nil {
		return info, fmt.Errorf("store: check %s: %w", path, err)
	}
	info.Size = st.Size()
	if !st.Mode().IsRegular() {
		return info, fmt.Errorf("store: check %s: not a regular file", path)
	}
	if st.Size() == 0 {
		return info, fmt.Errorf("%w: %s: empty file", ErrCorrupt, path)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, os.ErrNotExist) {
			return info, fmt.Errorf("store: check %s: %w", path, err)
		}
		return info, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if tx.Size() > info.Size {
			return fmt.Errorf("%w: %s: truncated: %d bytes, the database needs %d", ErrCorrupt, path, info.Size, tx.Size())
		}
		var problems []string
		for e := range tx.Check() {
			if len(problems) < 5 {
				problems = append(problems, e.Error())
			}
		}
		if len(problems) > 0 {
			return fmt.Errorf("%w: %s: %s", ErrCorrupt, path, strings.Join(problems, "; "))
		}
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return nil
		}
		info.StateMachine = true
		info.Schema = string(meta.Get(keySchema))
		info.Applied = metaUint(tx, keyApplied)
		info.AppliedTerm = metaUint(tx, keyAppliedTerm)
		for _, b := range allBuckets {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("%w: %s: state machine without bucket %q", ErrCorrupt, path, b)
			}
		}
		return nil
	})
	return info, err
}

// InProcessChecker runs CheckFile in the calling process: enough for files
// this process wrote itself (tests), not for untrusted ones.
func InProcessChecker(_ context.Context, path string) (FileInfo, error) {
	type result struct {
		info FileInfo
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		info, err := CheckFile(path)
		ch <- result{info, err}
	}()
	r := <-ch
	return r.info, r.err
}

// checkReport is what RunCheck prints for ExecChecker.
type checkReport struct {
	Info    FileInfo `json:"info"`
	Error   string   `json:"error,omitempty"`
	Corrupt bool     `json:"corrupt,omitempty"`
}

// RunCheck is the child's side of ExecChecker: it checks path and prints
// a JSON report on stdout. The exit code is 0 when the file is intact and 1
// when it is not (or could not be read).
func RunCheck(path string, stdout io.Writer) int {
	info, err := CheckFile(path)
	rep := checkReport{Info: info}
	if err != nil {
		rep.Error = err.Error()
		rep.Corrupt = errors.Is(err, ErrCorrupt)
	}
	json.NewEncoder(stdout).Encode(rep)
	if err != nil {
		return 1
	}
	return 0
}

// ExecChecker returns a Checker that runs argv with the path appended in a
// child process whose main calls RunCheck (the paramstore binary's hidden
// `check-bolt` command). A child that crashes, or does not finish before
// ctx ends, reports the file corrupt, with the child's panic message.
func ExecChecker(argv ...string) Checker {
	return func(ctx context.Context, path string) (FileInfo, error) {
		cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], path)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout = &stdout
		cmd.Stderr = &stderr
		runErr := cmd.Run()
		var rep checkReport
		if err := json.Unmarshal(stdout.Bytes(), &rep); err == nil {
			switch {
			case rep.Error == "" && runErr == nil:
				return rep.Info, nil
			case rep.Corrupt:
				return rep.Info, fmt.Errorf("%w: %s", ErrCorrupt, strings.TrimPrefix(rep.Error, ErrCorrupt.Error()+": "))
			case rep.Error != "":
				return rep.Info, errors.New(rep.Error)
			}
		}
		if ctx.Err() != nil {
			return FileInfo{}, fmt.Errorf("%w: %s: the check did not finish: %w", ErrCorrupt, path, ctx.Err())
		}
		var ee *exec.ExitError
		if !errors.As(runErr, &ee) {
			return FileInfo{}, fmt.Errorf("store: check %s: run %s: %w", path, argv[0], runErr)
		}
		return FileInfo{}, fmt.Errorf("%w: %s: bbolt crashed reading it (%v): %s", ErrCorrupt, path, runErr, crashLine(stderr.String()))
	}
}

// crashLine says, from a crashed Go program's output, why it died: the
// panic's message, or the kind of fault.
func crashLine(out string) string {
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "unexpected fault address"), strings.Contains(line, "SIGSEGV"), strings.Contains(line, "SIGBUS"):
			return "a memory fault reading the file"
		case strings.HasPrefix(line, "panic: "):
			return strings.TrimSpace(strings.TrimPrefix(line, "panic: "))
		case strings.HasPrefix(line, "fatal error: "):
			return strings.TrimSpace(strings.TrimPrefix(line, "fatal error: "))
		}
	}
	out = strings.TrimSpace(out)
	if i := strings.IndexByte(out, '\n'); i >= 0 {
		out = out[:i]
	}
	if out == "" {
		return "no output"
	}
	return out
}
