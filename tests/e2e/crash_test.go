package e2e_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/testproc"
)

// ackedWrite is a PutParameter that returned success.
type ackedWrite struct {
	name    string
	value   string
	version int64
	secure  bool
}

// writeLoad runs writers goroutines of PutParameter against endpoint until
// stop is called, and returns every acknowledged write plus the number of
// calls that failed once stopping had begun (in flight at the kill, or
// sent after it).
type writeLoad struct {
	t        *testing.T
	stopping atomic.Bool
	wg       sync.WaitGroup
	mu       sync.Mutex
	acks     []ackedWrite
	inFlight int
	started  time.Time
	firstAck time.Duration // from the start to the first acknowledged write
	slowest  time.Duration // the longest acknowledged PutParameter
	acked    chan struct{} // closed at the first acknowledged write
	errs     []error       // failures before stopping began: the server's fault
}

// snapshotFlags make the server snapshot and truncate its raft log often, so
// restarts in the crash test go through a snapshot plus log replay.
var snapshotFlags = []string{"--snapshot-threshold", "256", "--trailing-logs", "256", "--snapshot-interval", "200ms"}

// crashFlags are snapshotFlags with room for every write of the crash
// tests: each acknowledged write is a new name, and 20 rounds write more
// than the default 10,000 standard parameters when the machine is fast or
// the restarts are quick.
var crashFlags = append([]string{"--standard-parameter-limit", "1000000"}, snapshotFlags...)

func startWriteLoad(t *testing.T, srv *testproc.Server, round, writers int, seed int64) *writeLoad {
	l := &writeLoad{t: t, started: time.Now(), acked: make(chan struct{})}
	for g := range writers {
		l.wg.Add(1)
		go l.writer(srv.SSM(), round, g, rand.New(rand.NewSource(seed+int64(g))))
	}
	return l
}

func (l *writeLoad) writer(c *ssm.Client, round, g int, rng *rand.Rand) {
	defer l.wg.Done()
	type owned struct {
		name    string
		version int64
		secure  bool
	}
	var mine []*owned
	ctx := context.Background()
	for i := 0; !l.stopping.Load(); i++ {
		in := &ssm.PutParameterInput{Value: aws.String(fmt.Sprintf("r%d-g%d-i%d-%016x", round, g, i, rng.Uint64()))}
		var target *owned
		if len(mine) > 0 && rng.Intn(4) == 0 {
			// Overwrite one of this writer's parameters (kept well below
			// the 100 retained versions so every acknowledged version stays
			// readable).
			if o := mine[rng.Intn(len(mine))]; o.version < 80 {
				target = o
				in.Name, in.Overwrite = aws.String(o.name), aws.Bool(true)
			}
		}
		if target == nil {
			target = &owned{name: fmt.Sprintf("/crash/r%d/g%02d/p%05d", round, g, i), secure: rng.Intn(5) == 0}
			in.Name, in.Type = aws.String(target.name), types.ParameterTypeString
			if target.secure {
				in.Type = types.ParameterTypeSecureString
			}
		}
		sent := time.Now()
		out, err := c.PutParameter(ctx, in)
		took := time.Since(sent)
		if err != nil {
			l.mu.Lock()
			if l.stopping.Load() {
				l.inFlight++
			} else {
				l.errs = append(l.errs, fmt.Errorf("writer %d: PutParameter %s before the kill: %w", g, *in.Name, err))
			}
			l.mu.Unlock()
			return
		}
		if want := target.version + 1; out.Version != want {
			l.mu.Lock()
			l.errs = append(l.errs, fmt.Errorf("writer %d: PutParameter %s: got Version %d, want %d", g, *in.Name, out.Version, want))
			l.mu.Unlock()
		}
		if target.version == 0 {
			mine = append(mine, target)
		}
		target.version = out.Version
		l.mu.Lock()
		if len(l.acks) == 0 {
			l.firstAck = time.Since(l.started)
			close(l.acked)
		}
		l.slowest = max(l.slowest, took)
		l.acks = append(l.acks, ackedWrite{name: target.name, value: *in.Value, version: out.Version, secure: target.secure})
		l.mu.Unlock()
	}
}

// stop marks the load as stopping (so failures from now on are expected),
// runs kill, and waits for the writers.
func (l *writeLoad) stop(kill func()) []ackedWrite {
	l.stopping.Store(true)
	kill()
	l.wg.Wait()
	for _, err := range l.errs {
		l.t.Error(err)
	}
	return l.acks
}

// verifyAcked checks that every acknowledged write is readable by its
// version with its value, and that each name's current version is at least
// the highest acknowledged one. It returns how many acknowledged writes were
// found intact.
func verifyAcked(t *testing.T, srv *testproc.Server, acks []ackedWrite) int {
	t.Helper()
	c := srv.SSM()
	ctx := context.Background()
	found := 0
	for start := 0; start < len(acks); start += 10 {
		batch := acks[start:min(start+10, len(acks))]
		sel := make([]string, len(batch))
		for i, a := range batch {
			sel[i] = a.name + ":" + strconv.FormatInt(a.version, 10)
		}
		out, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: sel, WithDecryption: aws.Bool(true)})
		if err != nil {
			t.Fatalf("GetParameters %q after restart: %v", sel, err)
		}
		got := map[string]types.Parameter{}
		for _, p := range out.Parameters {
			got[aws.ToString(p.Name)+aws.ToString(p.Selector)] = p
		}
		for i, a := range batch {
			p, ok := got[sel[i]]
			switch {
			case !ok:
				t.Errorf("acknowledged write %s (value %q) is missing after restart; InvalidParameters %q", sel[i], a.value, out.InvalidParameters)
			case aws.ToString(p.Value) != a.value || p.Version != a.version:
				t.Errorf("acknowledged write %s: got version %d value %q after restart, want %q", sel[i], p.Version, aws.ToString(p.Value), a.value)
			case a.secure != (p.Type == types.ParameterTypeSecureString):
				t.Errorf("acknowledged write %s: got type %s after restart, secure=%v", sel[i], p.Type, a.secure)
			default:
				found++
			}
		}
	}

	latest := map[string]int64{}
	var order []string
	for _, a := range acks {
		if _, ok := latest[a.name]; !ok {
			order = append(order, a.name)
		}
		latest[a.name] = max(latest[a.name], a.version)
	}
	for start := 0; start < len(order); start += 10 {
		batch := order[start:min(start+10, len(order))]
		out, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: batch})
		if err != nil {
			t.Fatalf("GetParameters %q after restart: %v", batch, err)
		}
		if len(out.InvalidParameters) != 0 {
			t.Errorf("acknowledged parameters missing after restart: %q", out.InvalidParameters)
		}
		for _, p := range out.Parameters {
			if want := latest[aws.ToString(p.Name)]; p.Version < want {
				t.Errorf("%s: current version %d after restart, but version %d was acknowledged", aws.ToString(p.Name), p.Version, want)
			}
		}
	}
	return found
}

func crashRounds(t *testing.T) int {
	s := os.Getenv("PARAMSTORE_CRASH_ROUNDS")
	if s == "" {
		return 3
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("PARAMSTORE_CRASH_ROUNDS=%q: want a positive integer", s)
	}
	return n
}

// TestCrashRecovery kills the server with SIGKILL while writes are in
// flight and checks, after a restart on the same data dir, that every
// acknowledged write survived. A last round stops the server with SIGTERM
// instead, which must exit 0 with the data intact.
func TestCrashRecovery(t *testing.T) {
	rounds := crashRounds(t)
	seed := time.Now().UnixNano()
	t.Logf("seed %d, %d SIGKILL rounds + 1 SIGTERM round", seed, rounds)
	rng := rand.New(rand.NewSource(seed))
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, crashFlags...)
	var all []ackedWrite
	for round := 0; round <= rounds; round++ {
		sigterm := round == rounds
		writers := 8 + rng.Intn(9)
		delay := time.Duration(300+rng.Intn(1201)) * time.Millisecond
		load := startWriteLoad(t, srv, round, writers, rng.Int63())
		// The kill comes delay after the first acknowledged write, so a
		// slow machine cannot make a round without acknowledged writes.
		select {
		case <-load.acked:
		case <-time.After(30 * time.Second):
			load.stop(srv.Kill)
			t.Fatalf("round %d: no write acknowledged within 30s", round)
		}
		time.Sleep(delay)
		exitCode := -1
		acks := load.stop(func() {
			if !sigterm {
				srv.Kill()
				return
			}
			code, err := srv.Terminate(30 * time.Second)
			if err != nil {
				t.Errorf("round %d: SIGTERM: %v", round, err)
			}
			exitCode = code
		})
		if sigterm && exitCode != 0 {
			t.Errorf("round %d: server exited with code %d after SIGTERM, want 0", round, exitCode)
		}
		all = append(all, acks...)

		restart := time.Now()
		srv = startServer(t, dataDir, crashFlags...)
		ready := time.Since(restart)
		found := verifyAcked(t, srv, all)
		t.Logf("round %d: first write acknowledged after %v, slowest acknowledged write %v; restart ready after %v; verification took %v",
			round, load.firstAck.Round(time.Millisecond), load.slowest.Round(time.Millisecond), ready.Round(time.Millisecond), (time.Since(restart) - ready).Round(time.Millisecond))
		how := "SIGKILL"
		if sigterm {
			how = "SIGTERM"
		}
		t.Logf("round %d (%s %v after the first acknowledged write, %d writers): acknowledged %d writes (%d calls failed at the kill, unacknowledged), %d in total; found %d after restart",
			round, how, delay, writers, len(acks), load.inFlight, len(all), found)
		if found != len(all) {
			t.Fatalf("round %d: found %d of %d acknowledged writes after restart", round, found, len(all))
		}
	}
}
