package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// BenchmarkFollowerWrite measures a write's latency on a 3-node cluster
// that is not busy: sequential puts 20 ms apart, through the leader and
// through a follower, which forwards each to the leader and answers once
// it applied it itself (read-your-writes). A measurement, not an
// assertion: it reports the p50 and p90 of each, in ms
// (raftstore.commitTimeout says what sets the follower's).
func BenchmarkFollowerWrite(b *testing.B) {
	c := startClusterOpts(b, 3, false)
	l := c.leader(30 * time.Second)
	f := c.others(l)[0]
	for _, via := range []struct {
		name string
		n    *node
	}{{"leader", l}, {"follower", f}} {
		b.Run(via.name, func(b *testing.B) {
			cl := c.client(via.n, false, 10*time.Second)
			d := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				start := time.Now()
				_, err := cl.PutParameter(context.Background(), &ssm.PutParameterInput{
					Name: aws.String(fmt.Sprintf("/bench/seq/%s/p%d", via.name, i%5)), Value: aws.String(fmt.Sprint(i)),
					Type: "String", Overwrite: aws.Bool(true),
				})
				if err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(start))
				time.Sleep(20 * time.Millisecond)
			}
			slices.Sort(d)
			b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(d[len(d)*9/10].Microseconds())/1000, "p90-ms")
		})
	}
}
