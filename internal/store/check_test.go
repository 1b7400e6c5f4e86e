package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// checkChildArg makes the test binary act as ExecChecker's child.
const checkChildArg = "-paramstore-check-child"

func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == checkChildArg {
		os.Exit(RunCheck(os.Args[2], os.Stdout))
	}
	os.Exit(m.Run())
}

// execChecker runs the checks in a child process, as the server does.
func execChecker(t *testing.T) Checker {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return ExecChecker(exe, checkChildArg)
}

// stateFile writes a state machine with a few entries and returns its path
// and applied index.
func stateFile(t *testing.T, dir string) (string, uint64) {
	t.Helper()
	path := filepath.Join(dir, "state.db")
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db := &testDB{t: t, d: d}
	for i := range 40 {
		db.mustApply(putCmd("/check/"+strings.Repeat("x", i), 1, "Standard", 0))
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return path, db.index
}

// rootPage returns the page id of the root bucket in the newest of the two
// meta pages of a bbolt file with 4 KiB pages (page header 16 bytes, then
// magic, version, page size and flags, 4 bytes each, the root bucket's page
// id, its sequence, the freelist's page id, the high-water page id and the
// transaction id, 8 bytes each).
func rootPage(t *testing.T, raw []byte) int {
	t.Helper()
	const hdr = 16
	var root, txid uint64
	for m := range 2 {
		meta := raw[m*4096+hdr:]
		if binary.LittleEndian.Uint32(meta[0:]) != 0xED0CDAED {
			t.Fatalf("meta page %d: not a bbolt meta page", m)
		}
		if ps := binary.LittleEndian.Uint32(meta[8:]); ps != 4096 {
			t.Fatalf("meta page %d: page size %d, want 4096", m, ps)
		}
		if tx := binary.LittleEndian.Uint64(meta[48:]); m == 0 || tx > txid {
			root, txid = binary.LittleEndian.Uint64(meta[16:]), tx
		}
	}
	if root < 2 || int(root+1)*4096 > len(raw) {
		t.Fatalf("root page %d out of the file's %d bytes", root, len(raw))
	}
	return int(root)
}

func TestCheckFile(t *testing.T) {
	dir := t.TempDir()
	good, applied := stateFile(t, dir)
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain.db")
	b, err := bolt.Open(plain, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucket([]byte("logs"))
		if err != nil {
			return err
		}
		return bk.Put([]byte("k"), []byte("v"))
	})
	b.Close()

	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The root bucket's page overwritten: a corruption that makes bbolt
	// panic in a goroutine of its own when it opens the file in this
	// process. The page is found through the meta page, so the bytes
	// smashed are always in use (a fixed page number was sometimes a free
	// page, which the check rightly passes).
	smashed := bytes.Clone(raw)
	root := rootPage(t, raw)
	for i := root * 4096; i < root*4096+64; i++ {
		smashed[i] ^= 0xff
	}
	noise := make([]byte, 64<<10)
	rand.NewChaCha8([32]byte{1}).Read(noise)

	check := execChecker(t)
	tests := []struct {
		name    string
		path    string
		corrupt bool // else: intact
	}{
		{"intact state machine", good, false},
		{"intact bbolt file of another kind", plain, false},
		{"empty", write("empty.db", nil), true},
		{"truncated to half", write("half.db", raw[:len(raw)/2]), true},
		{"truncated to one page", write("page.db", raw[:4096]), true},
		{"page overwritten", write("smashed.db", smashed), true},
		{"random bytes", write("noise.db", noise), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, err := check(context.Background(), tc.path)
			if tc.corrupt {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("got %v, want ErrCorrupt", err)
				}
				t.Logf("reported: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("intact file: %v", err)
			}
			if tc.path == good && (!info.StateMachine || info.Applied != applied || info.Schema != schemaVersion) {
				t.Fatalf("got %+v, want a state machine of schema %s at index %d", info, schemaVersion, applied)
			}
			if tc.path == plain && info.StateMachine {
				t.Fatalf("got %+v, want no state machine", info)
			}
		})
	}
	if _, err := check(context.Background(), filepath.Join(dir, "missing.db")); err == nil || errors.Is(err, ErrCorrupt) {
		t.Fatalf("missing file: got %v, want an error other than ErrCorrupt", err)
	}
}

// TestCheckFileFlips flips random bytes of a state machine: the check
// either passes or reports the file corrupt, and never takes the calling
// process down (the crash is the child's).
func TestCheckFileFlips(t *testing.T) {
	dir := t.TempDir()
	good, _ := stateFile(t, dir)
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	check := execChecker(t)
	seeds := 8
	if testing.Short() {
		seeds = 3
	}
	var corrupt int
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 0))
		data := bytes.Clone(raw)
		for range 16 {
			data[rng.IntN(len(data))] ^= byte(1 + rng.IntN(255))
		}
		p := filepath.Join(dir, "flipped.db")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := check(context.Background(), p)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("seed %d: got %v, want nil or ErrCorrupt", seed, err)
		}
		if err != nil {
			corrupt++
		}
	}
	t.Logf("%d of %d flipped files reported corrupt", corrupt, seeds)
}

// TestRestoreRejectsCorruptCopy: a truncated copy handed to Restore leaves
// the current state as it was, and no temporary file behind.
func TestRestoreRejectsCorruptCopy(t *testing.T) {
	src := openTestDB(t)
	src.mustApply(putCmd("/src", 1, "Standard", 0))
	var buf bytes.Buffer
	if _, err := src.d.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	d, err := OpenOptions(filepath.Join(dir, "state.db"), Options{Check: execChecker(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dst := &testDB{t: t, d: d}
	dst.mustApply(putCmd("/dst", 1, "Standard", 0))
	before := dump(t, d)

	for _, n := range []int{0, 4096, buf.Len() / 2, buf.Len() - 1} {
		err := d.Restore(bytes.NewReader(buf.Bytes()[:n]))
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("restore of %d of %d bytes: got %v, want ErrCorrupt", n, buf.Len(), err)
		}
	}
	if after := dump(t, d); len(after) != len(before) || dst.param("/dst") == nil || dst.param("/src") != nil {
		t.Fatal("a failed restore changed the state")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "state.db" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	// The whole copy restores.
	if err := d.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if dst.param("/src") == nil {
		t.Fatal("restored state lacks /src")
	}
}

// TestWriteToStalledReader: a backup download whose reader stops reading
// must not stop writes, even writes that grow the file past its mapping
// (bbolt remaps under a lock that a reader's transaction holds).
func TestWriteToStalledReader(t *testing.T) {
	db := openTestDB(t)
	for i := range 50 {
		db.mustApply(bigPut(i))
	}
	size := func() int64 {
		st, err := os.Stat(db.d.path)
		if err != nil {
			return -1
		}
		return st.Size()
	}
	start := size()
	pr, pw := io.Pipe()
	defer pr.Close()
	copied := make(chan error, 1)
	go func() {
		_, err := db.d.WriteTo(pw)
		copied <- err
	}()
	// Read a little, then stop: WriteTo is now blocked writing to pw.
	if _, err := io.ReadFull(pr, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	type result struct {
		writes int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for i := 50; size() < 4*start; i++ {
			data, _ := bigPut(i).Marshal()
			db.index++
			if r.err = db.d.ApplyBatch([]Entry{{Index: db.index, Data: data}})[0]; r.err != nil {
				break
			}
			r.writes++
		}
		done <- r
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		t.Logf("%d writes grew state.db from %d to %d bytes while the reader was stalled", r.writes, start, size())
	case <-time.After(2 * time.Minute):
		t.Fatalf("writes blocked behind a stalled reader (state.db %d bytes, started at %d)", size(), start)
	}
	pr.Close()
	if err := <-copied; err == nil {
		t.Fatal("WriteTo to a closed reader succeeded")
	}
}

func bigPut(i int) *Command {
	c := putCmd("/big/"+strings.Repeat("n", 1+i%50)+string(rune('a'+i%26))+strings.Repeat("0", i/1300), 1, "Advanced", 0)
	c.Name = c.Name + "-" + itoa(i)
	c.Param.Name = c.Name
	c.Param.Latest.Value = strings.Repeat("v", 8000)
	return c
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}
