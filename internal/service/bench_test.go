package service_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/crypto"
	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/ssm"
	"github.com/paramstore/paramstore/internal/store"
)

// BenchmarkPutParameter is PutParameter below HTTP, as the server's write
// path runs it over 1000 names: parse, the planning read (a point read),
// the command's encoding and its application by the state machine with
// deferred commits (committed every 1000 entries here, on an interval in
// the server). Run with go test -run '^$' -bench Put -benchmem ./internal/service/
func BenchmarkPutParameter(b *testing.B) {
	for _, mode := range []string{"overwrite", "new"} {
		b.Run(mode, func(b *testing.B) {
			db, err := store.OpenOptions(filepath.Join(b.TempDir(), "state.db"), store.Options{BatchLimit: 1000})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			kr, err := crypto.New(bytes.Repeat([]byte{7}, 32))
			if err != nil {
				b.Fatal(err)
			}
			l := service.DefaultLimits()
			l.StandardParameters = 1 << 40
			svc, err := service.New(service.Config{Store: &dbStore{db: db}, Keyring: kr, Limits: l, Now: time.Now})
			if err != nil {
				b.Fatal(err)
			}
			c := callerIn(testRegion)
			ctx := store.WithPointReads(context.Background())
			value := string(bytes.Repeat([]byte{'v'}, 64))
			const names = 1000
			if mode == "overwrite" {
				for i := range names {
					in := &ssm.PutParameterInput{Name: ptr(fmt.Sprintf("/bench/p%d", i)), Value: &value, Type: ptr(ssm.TypeString)}
					if _, err := svc.PutParameter(ctx, c, in); err != nil {
						b.Fatal(err)
					}
				}
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				in := &ssm.PutParameterInput{Name: ptr(fmt.Sprintf("/bench/p%d", i%names)), Value: &value, Type: ptr(ssm.TypeString), Overwrite: ptr(true)}
				if mode == "new" {
					in.Name = ptr(fmt.Sprintf("/bench/new/p%d", i))
					in.Overwrite = nil
				}
				if _, err := svc.PutParameter(ctx, c, in); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
