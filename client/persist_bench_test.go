package client

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

// BenchmarkPersist measures the persistent cache at 1k, 10k and 100k
// entries: ns/op is one write-behind flush of 100 changed entries (what a
// busy agent writes per window); it also reports the first full write,
// the load at start, the file size, and the RSS of a process that loaded
// the cache (as an agent at start; its own process).
func BenchmarkPersist(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run("entries="+strconv.Itoa(n), func(b *testing.B) {
			dir := b.TempDir()
			key := make([]byte, 32)
			rand.Read(key)
			p, _, _, err := openPersister(dir, key)
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			entries := make([]entry, n)
			for i := range entries {
				name := fmt.Sprintf("/bench/app%03d/param-%06d", i%500, i)
				entries[i] = entry{q: query{Kind: kindName, Region: "us-east-1", Decrypt: true, Name: name}, fetchedAt: now,
					params: []Parameter{{Name: name, Type: "SecureString", Value: strings.Repeat("s", 64), Version: 1,
						ARN: "arn:aws:ssm:us-east-1:123456789012:parameter" + name, DataType: "text", LastModifiedDate: now}}}
			}
			start := time.Now()
			if err := p.write(entries, nil); err != nil {
				b.Fatal(err)
			}
			full := time.Since(start)

			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				batch := make([]entry, 100)
				for j := range batch {
					batch[j] = entries[(i*100+j)%n]
					batch[j].fetchedAt = time.Now()
				}
				if err := p.write(batch, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			p.close()
			fi, _ := os.Stat(p.path)

			// A client loading the file, as an agent does at start.
			start = time.Now()
			c, err := New(b.Context(), Config{Region: "us-east-1", Endpoints: []string{"http://127.0.0.1:1"}, CacheDir: dir, CacheKey: key,
				MaxEntries: n, Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
			if err != nil {
				b.Fatal(err)
			}
			load := time.Since(start)
			if got := c.cache.len(); got != n {
				b.Fatalf("loaded %d entries, want %d", got, n)
			}
			b.ReportMetric(float64(full.Milliseconds()), "full-write-ms")
			b.ReportMetric(float64(load.Milliseconds()), "load-ms")
			b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
			c.Close()
			b.ReportMetric(loadedRSS(b, dir, key, n), "loaded-RSS-MiB")
		})
	}
}

// loadedRSS runs this test binary as a process that only opens the cache
// as a client (what an agent does at start) and returns its RSS.
func loadedRSS(b *testing.B, dir string, key []byte, n int) float64 {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessLoad$")
	cmd.Env = append(os.Environ(), "PARAMSTORE_HELPER_LOAD="+dir, "PARAMSTORE_HELPER_KEY="+base64.StdEncoding.EncodeToString(key),
		"PARAMSTORE_HELPER_N="+strconv.Itoa(n))
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("helper: %v\n%s", err, out)
	}
	_, v, _ := strings.Cut(string(out), "rss-mib=")
	f, _ := strconv.ParseFloat(strings.Fields(v + " 0")[0], 64)
	return f
}

// TestHelperProcessLoad is not a test: BenchmarkPersist runs it in a
// process of its own to measure the RSS of a client that loaded a cache.
func TestHelperProcessLoad(t *testing.T) {
	dir := os.Getenv("PARAMSTORE_HELPER_LOAD")
	if dir == "" {
		return
	}
	key, _ := base64.StdEncoding.DecodeString(os.Getenv("PARAMSTORE_HELPER_KEY"))
	n, _ := strconv.Atoi(os.Getenv("PARAMSTORE_HELPER_N"))
	c, err := New(t.Context(), Config{Region: "us-east-1", Endpoints: []string{"http://127.0.0.1:1"}, CacheDir: dir, CacheKey: key,
		MaxEntries: n, Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.cache.len(); got != n {
		t.Fatalf("loaded %d entries, want %d", got, n)
	}
	runtime.GC()
	fmt.Printf("rss-mib=%.1f\n", rssMiB())
}

// rssMiB is the resident set size of this process.
func rssMiB() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
