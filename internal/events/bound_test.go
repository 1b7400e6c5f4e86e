package events_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/events"
	"github.com/paramstore/paramstore/internal/server"
	"github.com/paramstore/paramstore/internal/servertest"
	"github.com/paramstore/paramstore/internal/store"
)

// TestOutboxBoundedWhileReceiverDown: a receiver that stays down cannot
// grow the outbox past the queue limit. Filled with four times the limit,
// the subscription keeps the newest QueueLimit events, dead-letters the
// oldest, and says so (DeadLettered, their IDs, state dead-letter); once
// the receiver is back it gets exactly the newest QueueLimit, in order.
func TestOutboxBoundedWhileReceiverDown(t *testing.T) {
	// The store keeps the IDs of the last 20 dead-lettered events.
	const limit, n, keptIDs = 10, 40, 20
	_, endpoint := servertest.Start(t, fastRetries, func(c *server.Config) { c.Events.QueueLimit = limit })
	rcv := newReceiver(t, "k")
	if err := admin(t, endpoint, "PutNotification", map[string]string{"Name": "r", "Url": rcv.srv.URL, "Secret": "k"}, nil); err != nil {
		t.Fatal(err)
	}
	rcv.setDown(true)
	ctx := context.Background()
	c := servertest.Client(t, endpoint, region)
	for i := 1; i <= n; i++ {
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/bound/p"), Value: aws.String(fmt.Sprint(i)), Type: types.ParameterTypeString, Overwrite: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The worker dead-letters the excess at its next look at the outbox,
	// between attempts.
	sub := awaitDeadLettered(t, endpoint, n-limit, func() { <-rcv.failed })
	if sub.DeadLettered != n-limit || len(sub.DeadLetterIDs) != keptIDs || sub.Pending != limit || sub.State != "dead-letter" {
		t.Fatalf("after %d events with the receiver down: dead-lettered %d (%d IDs), pending %d, state %q; want %d, %d, %d, dead-letter",
			n, sub.DeadLettered, len(sub.DeadLetterIDs), sub.Pending, sub.State, n-limit, keptIDs, limit)
	}
	t.Logf("receiver down, %d events: pending %d (QueueLimit %d), dead-lettered %d, state %s", n, sub.Pending, limit, sub.DeadLettered, sub.State)

	rcv.setDown(false)
	rcv.await(t, limit)
	evs, _, _ := rcv.snapshot()
	var versions []string
	for _, ev := range evs {
		if slices.Contains(sub.DeadLetterIDs, ev.ID) {
			t.Errorf("event %s was reported dead-lettered and delivered", ev.ID)
		}
		versions = append(versions, str(detailOf(t, ev)["toVersion"]))
	}
	var want []string
	for v := n - limit + 1; v <= n; v++ {
		want = append(want, fmt.Sprint(v))
	}
	if !slices.Equal(versions, want) {
		t.Errorf("delivered versions %v, want the newest %d: %v", versions, limit, want)
	}
}

// TestOutboxBoundedWhenSecretUnusable: a subscription whose secret cannot
// be unwrapped (wrapped under another master key, or damaged) delivers
// nothing, yet its outbox stays within the queue limit: the oldest events
// are dead-lettered as for a receiver that is down. Such a record cannot
// be written through the API, so the test replaces the subscription with
// a damaged secret through the replicated store, as a restore from another
// cluster's snapshot would leave it.
func TestOutboxBoundedWhenSecretUnusable(t *testing.T) {
	const limit, n = 10, 40
	s, endpoint := servertest.Start(t, fastRetries, func(c *server.Config) { c.Events.QueueLimit = limit })
	rcv := newReceiver(t, "k")
	if err := admin(t, endpoint, "PutNotification", map[string]string{"Name": "r", "Url": rcv.srv.URL, "Secret": "k"}, nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var sub *store.Subscription
	if err := s.Node().View(ctx, func(r *store.Reader) error {
		var err error
		sub, err = r.Subscription("r")
		return err
	}); err != nil || sub == nil {
		t.Fatalf("read subscription: %v, %v", sub, err)
	}
	damaged := *sub
	damaged.Secret = []byte("not a wrapped secret")
	damaged.Created++ // another subscription: its worker starts afresh
	if err := s.Node().Apply(ctx, &store.Command{Op: store.OpNotifyPut, Sub: &damaged, Time: time.Now().UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	c := servertest.Client(t, endpoint, region)
	for i := 1; i <= n; i++ {
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/bound/p"), Value: aws.String(fmt.Sprint(i)), Type: types.ParameterTypeString, Overwrite: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
	}
	info := awaitDeadLettered(t, endpoint, n-limit, func() { time.Sleep(20 * time.Millisecond) })
	if info.DeadLettered != n-limit || info.Pending != limit {
		t.Fatalf("after %d events with an unusable secret: dead-lettered %d, pending %d (last error %q); want %d and %d",
			n, info.DeadLettered, info.Pending, info.LastError, n-limit, limit)
	}
	if !strings.Contains(info.LastError, "cannot be unwrapped") {
		t.Errorf("last error %q does not say the secret cannot be unwrapped", info.LastError)
	}
	if got, _, _ := rcv.snapshot(); len(got) != 0 {
		t.Errorf("the receiver got %d events signed with no usable secret", len(got))
	}
}

// TestOutboxBoundedDuringBackoff: a worker backing off after a failed
// delivery still applies the queue limit to what arrives meanwhile. The
// backoff here is an hour: the bound must not wait for the next attempt.
func TestOutboxBoundedDuringBackoff(t *testing.T) {
	const limit, n = 10, 40
	_, endpoint := servertest.Start(t, func(c *server.Config) {
		c.Events = events.DefaultConfig()
		c.Events.BackoffMin, c.Events.BackoffMax = time.Hour, time.Hour
		c.Events.Poll = 20 * time.Millisecond
		c.Events.QueueLimit = limit
	})
	rcv := newReceiver(t, "k")
	rcv.setDown(true)
	if err := admin(t, endpoint, "PutNotification", map[string]string{"Name": "r", "Url": rcv.srv.URL, "Secret": "k"}, nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := servertest.Client(t, endpoint, region)
	put := func(i int) {
		t.Helper()
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/bound/p"), Value: aws.String(fmt.Sprint(i)), Type: types.ParameterTypeString, Overwrite: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(1)
	<-rcv.failed // the first attempt failed: the worker backs off for an hour
	for i := 2; i <= n; i++ {
		put(i)
	}
	info := awaitDeadLettered(t, endpoint, n-limit, func() { time.Sleep(20 * time.Millisecond) })
	if info.DeadLettered != n-limit || info.Pending != limit || info.Failed != 1 {
		t.Fatalf("%d events during a backoff: dead-lettered %d, pending %d, failed attempts %d; want %d, %d, 1",
			n, info.DeadLettered, info.Pending, info.Failed, n-limit, limit)
	}
}

// awaitDeadLettered lists the one subscription until it reports want
// dead-lettered events, or a minute has passed, calling pause between
// looks; it returns the last listing.
func awaitDeadLettered(t *testing.T, endpoint string, want uint64, pause func()) events.Info {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var list events.ListOutput
		if err := admin(t, endpoint, "ListNotifications", struct{}{}, &list); err != nil {
			t.Fatal(err)
		}
		info := list.Subscriptions[0]
		if info.DeadLettered >= want || time.Now().After(deadline) {
			return info
		}
		pause()
	}
}
