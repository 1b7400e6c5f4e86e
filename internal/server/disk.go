package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paramstore/paramstore/internal/audit"
	"github.com/paramstore/paramstore/internal/bytesize"
)

// The disk floor.
//
// Writes append to the raft log (raft.db), then to state.db, on the data
// directory's file system; a log that cannot be appended fails every write
// and, at worst, leaves the node unable to restart cleanly. So the server
// refuses changes while the file system has less than Config.MinFreeSpace
// bytes free (--min-free-space), before it is full: reads go on, /readyz
// stays 200 with can_write false and a "degraded" reason, and writes
// resume by themselves once space is freed. The check is a statfs(2) per
// write, so it sees freed space at once; while at least twice the floor
// is free, one statfs answers the writes of the next freeHold (100 ms: far
// less than the floor could be written in), as the profile of PutParameter
// at concurrency 64 showed the syscall at 3.4% of the server's CPU.
//
// Refused writes get InternalServerError (HTTP 500), the error the server
// already gives when its audit trail cannot write: the SDKs retry it a few
// times with backoff and then report it. A ThrottlingException would tell
// callers to slow down, which does not free a disk, and tools that retry
// throttling for a long time would hide the outage.

// ErrLowDisk is wrapped by the error of a write refused for lack of disk
// space.
var ErrLowDisk = errors.New("server: the data directory's file system is nearly full")

// diskGuard enforces the floor and measures the data directory.
type diskGuard struct {
	dir       string // the data directory
	auditPath string // the audit trail's active file; "" without a trail
	floor     int64
	log       *slog.Logger
	// statfs is syscall.Statfs and now time.Now; tests of the arithmetic
	// replace them.
	statfs func(path string, st *syscall.Statfs_t) error
	now    func() time.Time
	// plentyUntil (unix nanoseconds): until then the last statfs found at
	// least twice the floor free, and writes skip the syscall.
	plentyUntil atomic.Int64

	// low is 1 while free space is below the floor (for /readyz and the
	// metric); the transition is logged once each way.
	low atomic.Bool

	// mu guards the sizes measured by the last scrape of the metrics.
	mu    sync.Mutex
	sizes map[string]int64
	at    time.Time
}

func newDiskGuard(dir, auditPath string, floor int64, log *slog.Logger) *diskGuard {
	return &diskGuard{dir: dir, auditPath: auditPath, floor: floor, log: log, statfs: syscall.Statfs, now: time.Now}
}

// free returns the bytes available to the server on the data directory's
// file system, and its size.
func (g *diskGuard) free() (avail, total int64, err error) {
	var st syscall.Statfs_t
	if err := g.statfs(g.dir, &st); err != nil {
		return 0, 0, fmt.Errorf("server: statfs %s: %w", g.dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), int64(st.Blocks) * int64(st.Bsize), nil
}

// check returns an error wrapping ErrLowDisk while free space is below the
// floor. It logs each change of state once.
func (g *diskGuard) check() error {
	if g == nil || g.floor == 0 {
		return nil
	}
	now := g.now().UnixNano()
	if now < g.plentyUntil.Load() {
		return nil
	}
	avail, _, err := g.free()
	if err != nil {
		return nil // not knowing is no reason to refuse; the write itself will tell
	}
	if avail >= 2*g.floor {
		g.plentyUntil.Store(now + int64(freeHold))
	}
	if avail >= g.floor {
		if g.low.Swap(false) {
			g.log.Info("disk space is back above --min-free-space; writes resume", "data_dir", g.dir, "free_bytes", avail, "floor_bytes", g.floor)
		}
		return nil
	}
	if !g.low.Swap(true) {
		g.log.Error("disk space below --min-free-space: refusing writes until space is freed (reads go on)", "data_dir", g.dir,
			"free_bytes", avail, "floor_bytes", g.floor)
	}
	return fmt.Errorf("%w: %s free, below --min-free-space %s; changes are refused until space is freed", ErrLowDisk,
		bytesize.Format(avail), bytesize.Format(g.floor))
}

// freeHold is how long a statfs that found plenty of space (twice the
// floor) answers for.
const freeHold = 100 * time.Millisecond

// degraded is the reason /readyz gives while writes are refused.
func (g *diskGuard) degraded() string {
	if err := g.check(); err != nil {
		return strings.TrimPrefix(err.Error(), "server: ")
	}
	return ""
}

// parts of the data directory, as the metric's label values.
const (
	partAudit     = "audit"
	partState     = "state"
	partRaftLog   = "raft_log"
	partSnapshots = "snapshots"
	partIncidents = "incidents"
	partOther     = "other"
)

// measure returns the allocated bytes of each part of the data directory
// (and of the audit trail, wherever it is), at most once a second however
// often it is scraped.
func (g *diskGuard) measure() map[string]int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sizes != nil && time.Since(g.at) < time.Second {
		return g.sizes
	}
	sizes := map[string]int64{partAudit: 0, partState: 0, partRaftLog: 0, partSnapshots: 0, partIncidents: 0, partOther: 0}
	audits := map[string]bool{}
	if g.auditPath != "" {
		if files, err := audit.ListFiles(g.auditPath); err == nil {
			for _, f := range files {
				audits[f.Path] = true
				sizes[partAudit] += allocated(f.Path)
			}
		}
	}
	filepath.WalkDir(g.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || audits[path] {
			return nil
		}
		rel, _ := filepath.Rel(g.dir, path)
		part := partOther
		switch {
		case rel == filepath.Join("raft", "state.db"):
			part = partState
		case rel == filepath.Join("raft", "raft.db"), strings.HasPrefix(rel, filepath.Join("raft", "wal")+string(filepath.Separator)):
			part = partRaftLog
		case strings.HasPrefix(rel, filepath.Join("raft", "snapshots")+string(filepath.Separator)):
			part = partSnapshots
		case strings.HasPrefix(rel, "incidents"):
			part = partIncidents
		case strings.HasPrefix(filepath.Base(rel), "audit.log"):
			part = partAudit // torn records, the shipped marker
		}
		sizes[part] += allocated(path)
		return nil
	})
	g.sizes, g.at = sizes, time.Now()
	return sizes
}

// allocated returns the bytes a file takes on disk (as du counts them).
func allocated(path string) int64 {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}

// collectors are the disk metrics.
func (g *diskGuard) collectors() []prometheus.Collector {
	var cs []prometheus.Collector
	for _, part := range []string{partAudit, partState, partRaftLog, partSnapshots, partIncidents, partOther} {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "paramstore_data_dir_bytes",
			Help:        "Bytes on disk of each part of the data directory: audit (the trail, rotated files included, wherever --audit-file puts it), state (state.db), raft_log (raft.db, or the WAL: raft/wal/), snapshots, incidents, other.",
			ConstLabels: prometheus.Labels{"part": part},
		}, func() float64 { return float64(g.measure()[part]) }))
	}
	cs = append(cs,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paramstore_disk_free_bytes",
			Help: "Bytes available on the data directory's file system.",
		}, func() float64 { a, _, _ := g.free(); return float64(a) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paramstore_disk_size_bytes",
			Help: "Size of the data directory's file system.",
		}, func() float64 { _, t, _ := g.free(); return float64(t) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paramstore_disk_min_free_bytes",
			Help: "The floor (--min-free-space): below it, writes are refused; 0 is no floor.",
		}, func() float64 { return float64(g.floor) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paramstore_disk_writes_refused",
			Help: "1 while writes are refused because free space is below --min-free-space.",
		}, func() float64 {
			if g.check() != nil {
				return 1
			}
			return 0
		}),
	)
	return cs
}
