package agent_test

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkBrownout reads cached values through an agent (Lambda path,
// 20 parameters round-robin, --ttl 1s so values keep expiring and every
// refresh meets the upstream's trouble) while moto_server, standing in
// for AWS, is healthy, blackholed, slow (1s per answer), throttling or
// failing with 5xx. It reports p50/p99/max of the reads and the share
// served stale: with the refresh budget (100ms) the p99 stays near the
// budget whatever the upstream does. Run with -benchtime=Nx (make
// bench-agent), one agent per mode so breakers start closed.
func BenchmarkBrownout(b *testing.B) {
	m := startMoto(b)
	const n = 20
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("/brownout/p%02d", i)
		m.put(names[i], "value")
	}
	for _, mode := range []string{modeUp, modeBlackhole, modeSlow, modeThrottle, modeError} {
		b.Run("upstream="+mode, func(b *testing.B) {
			sw := newSwitch(b, m.url)
			ag := start(b, "agent", motoEnv(b), "agent", "--upstream", sw.URL, "--listen", "127.0.0.1:0",
				"--ttl", "1s", "--token", agentToken)
			for _, name := range names {
				if r := lambdaGet(ag.URL(), name, true); r.err != nil {
					b.Fatalf("warm %s: %v", name, r.err)
				}
			}
			sw.set(mode)
			lat := make([]time.Duration, 0, b.N)
			stale, failed := 0, 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				r := lambdaGet(ag.URL(), names[i%n], true)
				lat = append(lat, time.Since(t0))
				if r.err != nil {
					failed++
				} else if r.stale {
					stale++
				}
			}
			b.StopTimer()
			sw.set(modeUp)
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(q(0.50), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			b.ReportMetric(q(1), "max-ms")
			b.ReportMetric(100*float64(stale)/float64(b.N), "stale-%")
			b.ReportMetric(float64(failed), "failed")
		})
	}
}
