// Command soak runs a durable Paramstore server under a mixed load for a
// long time (`make soak`, bounded by SOAK_DURATION) and samples, every
// -interval, what must not grow without bound: the server's RSS (anonymous
// and file-backed), goroutines, open file descriptors, and the size of each
// part of its data directory (audit trail, state.db, raft.db, snapshots,
// the rest), with the free space of the file system. It writes the curve
// as a markdown table (bench/SOAK.md) with the settings, the request rate
// reached and the machine's load, so a reader can judge the figures.
//
//	go run ./bench/soak -bin bin/paramstore -loadgen bin/loadgen -d 30m -out bench/SOAK.md
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sample is one row of the curve.
type sample struct {
	at                     time.Duration
	requests               float64 // paramstore_requests_total, all series
	rssAnon, rssFile       int64
	goroutines, fds        int
	audit, auditFiles      int64
	state, raftLog, snaps  int64
	other, total, freeDisk int64
	load1                  string
}

func main() {
	bin := flag.String("bin", "bin/paramstore", "paramstore binary")
	loadgen := flag.String("loadgen", "bin/loadgen", "loadgen binary (go build ./bench/loadgen)")
	dur := flag.Duration("d", 30*time.Minute, "duration of the load")
	interval := flag.Duration("interval", 0, "sampling interval (default: duration/30, at least 10s)")
	out := flag.String("out", "bench/SOAK.md", "markdown report")
	dataDir := flag.String("data-dir", "", "data directory (default: a new temporary directory, removed at the end)")
	conc := flag.Int("c", 16, "loadgen concurrency")
	mix := flag.String("mix", "get=60,getsecure=10,bypath=5,put=15,putnew=5,describe=5", "loadgen operation mix (issue 19's)")
	params := flag.Int("params", 2000, "parameters the load reads and overwrites")
	serverArgs := flag.String("server-args", "--audit-max-size 32MiB --audit-retain 8", "extra server flags (small rotation settings show the plateau within the run)")
	flag.Parse()
	if *interval == 0 {
		*interval = max(*dur/30, 10*time.Second)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *loadgen, *dur, *interval, *out, *dataDir, *conc, *mix, *params, strings.Fields(*serverArgs)); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin, loadgen string, dur, interval time.Duration, out, dataDir string, conc int, mix string, params int, serverArgs []string) error {
	if dataDir == "" {
		d, err := os.MkdirTemp("", "paramstore-soak-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dataDir = d
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	url := "http://" + addr
	args := append([]string{"server", "--data-dir", dataDir, "--listen", addr, "--log-level", "warn"}, serverArgs...)
	srv := exec.Command(bin, args...)
	logf, err := os.Create(filepath.Join(os.TempDir(), "paramstore-soak-server.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}()
	if err := waitReady(ctx, url); err != nil {
		return fmt.Errorf("server not ready (log in %s): %w", logf.Name(), err)
	}
	creds := filepath.Join(dataDir, "root-credentials")
	fmt.Fprintf(os.Stderr, "soak: server pid %d on %s, data dir %s, load for %v, a sample every %v\n", srv.Process.Pid, url, dataDir, dur, interval)

	lg := exec.CommandContext(ctx, loadgen, "-url", url, "-creds", creds, "-c", strconv.Itoa(conc), "-d", dur.String(),
		"-mix", mix, "-params", strconv.Itoa(params))
	var lgOut strings.Builder
	lg.Stdout, lg.Stderr = &lgOut, &lgOut
	if err := lg.Start(); err != nil {
		return fmt.Errorf("start loadgen: %w", err)
	}
	lgDone := make(chan error, 1)
	go func() { lgDone <- lg.Wait() }()

	start := time.Now()
	var samples []sample
	take := func(loadgenOut string) {
		s := measure(srv.Process.Pid, url, dataDir)
		s.at = time.Since(start).Round(time.Second)
		samples = append(samples, s)
		fmt.Fprintf(os.Stderr, "soak: %v requests=%.0f anon=%s audit=%s total=%s free=%s load=%s\n", s.at, s.requests, mib(s.rssAnon), mib(s.audit), mib(s.total), mib(s.freeDisk), s.load1)
		// Written after every sample: a run cut short still leaves its curve.
		if err := os.WriteFile(out, report(samples, args, conc, mix, params, dur, loadgenOut), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
		}
	}
	take("")
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			take("")
		case err := <-lgDone:
			// loadgen has exited: its output is complete.
			take(lgOut.String())
			if err != nil {
				return fmt.Errorf("loadgen: %w\n%s", err, lgOut.String())
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitReady(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// measure reads /proc and the data directory.
func measure(pid int, url, dir string) sample {
	var s sample
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(st), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			f := strings.Fields(v)
			if len(f) == 0 {
				continue
			}
			n, _ := strconv.ParseInt(f[0], 10, 64)
			switch k {
			case "RssAnon":
				s.rssAnon = n << 10
			case "RssFile":
				s.rssFile = n << 10
			}
		}
	}
	if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		s.fds = len(fds)
	}
	if resp, err := http.Get(url + "/metrics"); err == nil {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "go_goroutines "):
				n, _ := strconv.ParseFloat(strings.TrimPrefix(line, "go_goroutines "), 64)
				s.goroutines = int(n)
			case strings.HasPrefix(line, "paramstore_requests_total{"):
				f := strings.Fields(line)
				n, _ := strconv.ParseFloat(f[len(f)-1], 64)
				s.requests += n
			}
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		// Allocated bytes, as du counts them.
		n := fi.Size()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			n = st.Blocks * 512
		}
		rel, _ := filepath.Rel(dir, path)
		switch {
		case strings.HasPrefix(rel, "audit.log"):
			s.audit += n
			s.auditFiles++
		case rel == "raft/state.db":
			s.state += n
		case rel == "raft/raft.db", strings.HasPrefix(rel, "raft/wal/"):
			s.raftLog += n
		case strings.HasPrefix(rel, "raft/snapshots"):
			s.snaps += n
		default:
			s.other += n
		}
		s.total += n
		return nil
	})
	var fs syscall.Statfs_t
	if syscall.Statfs(dir, &fs) == nil {
		s.freeDisk = int64(fs.Bavail) * fs.Bsize
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		s.load1 = strings.Fields(string(la))[0]
	}
	return s
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func report(samples []sample, serverArgs []string, conc int, mix string, params int, dur time.Duration, loadgenOut string) []byte {
	var b strings.Builder
	last := samples[len(samples)-1]
	rate := 0.0
	if last.at > 0 {
		rate = last.requests / last.at.Seconds()
	}
	fmt.Fprintf(&b, "# Soak\n\n")
	fmt.Fprintf(&b, "Written by `make soak` (bench/soak) on %s: `paramstore %s` under `bench/loadgen -c %d -mix %s -params %d` for %v (SigV4 auth, audit on, durable single node). ",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), strings.Join(serverArgs, " "), conc, mix, params, dur)
	fmt.Fprintf(&b, "%d CPUs, shared with other work (the load average is in the table). Mean rate: **%.0f requests/s** over %v (%.0f requests).\n\n", runtime.NumCPU(), rate, last.at, last.requests)
	fmt.Fprintf(&b, "Sizes are allocated bytes (as du counts them); `audit` is every file of the trail (active and rotated, compressed), `other` the keyring, credentials, incidents and the like.\n\n")
	fmt.Fprintf(&b, "| time | requests | req/s | RSS anon | RSS file | goroutines | fds | audit (files) | state.db | raft.db | snapshots | other | data dir | free disk | load1 |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i, s := range samples {
		r := 0.0
		if i > 0 && s.at > samples[i-1].at {
			r = (s.requests - samples[i-1].requests) / (s.at - samples[i-1].at).Seconds()
		}
		fmt.Fprintf(&b, "| %v | %.0f | %.0f | %s | %s | %d | %d | %s (%d) | %s | %s | %s | %s | %s | %s | %s |\n",
			s.at, s.requests, r, mib(s.rssAnon), mib(s.rssFile), s.goroutines, s.fds, mib(s.audit), s.auditFiles,
			mib(s.state), mib(s.raftLog), mib(s.snaps), mib(s.other), mib(s.total), mib(s.freeDisk), s.load1)
	}
	if loadgenOut != "" {
		fmt.Fprintf(&b, "\nloadgen's report:\n\n```\n%s```\n", loadgenOut)
	}
	return []byte(b.String())
}
