package events_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/servertest"
)

// BenchmarkPutParameterSubscriptions measures PutParameter (a real server
// over HTTP, the SDK as client) with 0, 1 and 10 webhook subscriptions, one
// of the 10 a receiver that never answers (and one hanging alone):
// delivery must not slow writes. Receivers run in the benchmark's process,
// so the CPU of the deliveries themselves is part of the figure.
func BenchmarkPutParameterSubscriptions(b *testing.B) {
	for _, tc := range []struct {
		name          string
		fast, hanging int
	}{{"subs=0", 0, 0}, {"subs=1", 1, 0}, {"subs=1-hanging", 0, 1}, {"subs=10-one-hanging", 9, 1}} {
		b.Run(tc.name, func(b *testing.B) {
			_, endpoint := servertest.Start(b)
			fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			defer fast.Close()
			hang := make(chan struct{})
			hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-hang:
				case <-r.Context().Done():
				}
			}))
			defer hanging.Close()
			defer close(hang)
			for i := 0; i < tc.fast+tc.hanging; i++ {
				u := fast.URL
				if i >= tc.fast {
					u = hanging.URL
				}
				if err := admin(b, endpoint, "PutNotification", map[string]string{"Name": fmt.Sprint("s", i), "Url": u, "Secret": "k"}, nil); err != nil {
					b.Fatal(err)
				}
			}
			c := servertest.Client(b, endpoint, region)
			ctx := context.Background()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(fmt.Sprintf("/bench/%d", i%100)),
						Value: aws.String("v"), Type: types.ParameterTypeString, Overwrite: aws.Bool(true)})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
