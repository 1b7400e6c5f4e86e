package cluster_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/paramstore/paramstore/client"
)

// TestWatchFollowerFailover: followers serve the change stream from their
// own state. A client given the two followers watches from one of them;
// that node is killed (SIGKILL) in the middle of a stream of writes made
// through the leader, and the watch moves to the other follower and
// resumes from its index: every change arrives exactly once, in order, and
// no Reset.
func TestWatchFollowerFailover(t *testing.T) {
	c := startCluster(t, 3)
	leader := c.leader(30 * time.Second)
	var followers []*node
	for _, n := range c.nodes {
		if n != leader {
			followers = append(followers, n)
		}
	}
	creds := c.credentials()
	cl, err := client.New(t.Context(), client.Config{
		Endpoints:           []string{followers[0].endpoint(), followers[1].endpoint()},
		Region:              "us-east-1",
		Credentials:         credentials.NewStaticCredentialsProvider(creds.ID, creds.Secret, ""),
		HealthCheckInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := cl.Watch(ctx, "/fo")
	if err != nil {
		t.Fatal(err)
	}
	// Find the follower the watch waits on.
	var watched *node
	waitUntil(t, 30*time.Second, "the watch waiting on a follower", func() bool {
		for _, f := range followers {
			if scrapeWatchers(f.endpoint()) == "1" {
				watched = f
				return true
			}
		}
		return false
	})
	writer := c.client(leader, false, 10*time.Second)
	put := func(i int) {
		t.Helper()
		_, err := writer.PutParameter(context.Background(), &ssm.PutParameterInput{
			Name: aws.String(fmt.Sprintf("/fo/p%d", i%4)), Value: aws.String(strconv.Itoa(i)), Type: "String", Overwrite: aws.Bool(true)})
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	const total = 40
	var want []client.Change
	for i := range total {
		want = append(want, client.Change{Name: fmt.Sprintf("/fo/p%d", i%4), Version: int64(i/4 + 1)})
	}
	got := make(chan []client.Change, 1)
	go func() {
		var seen []client.Change
		for len(seen) < total+1 {
			select {
			case chg, ok := <-ch:
				if !ok {
					got <- seen
					return
				}
				seen = append(seen, chg)
			case <-time.After(60 * time.Second):
				got <- seen
				return
			}
		}
		got <- seen
	}()
	for i := range total / 2 {
		put(i)
	}
	watched.kill()
	t.Logf("killed %s, the follower the watch was on", watched.id)
	for i := total / 2; i < total; i++ {
		put(i)
	}
	// A last write: once it arrives, anything repeated would have too.
	if _, err := writer.PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String("/fo/last"), Value: aws.String("x"), Type: "String"}); err != nil {
		t.Fatal(err)
	}
	want = append(want, client.Change{Name: "/fo/last", Version: 1})
	seen := <-got
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("the watch saw\n%v\nwant each change once, in order:\n%v", seen, want)
	}
	other := followers[0]
	if other == watched {
		other = followers[1]
	}
	// The stream that resumed on the other follower delivers what it
	// catches up on before it parks there (and counts as a watcher): the
	// last change may arrive first.
	waitUntil(t, 10*time.Second, "the watch parked on "+other.id, func() bool { return scrapeWatchers(other.endpoint()) == "1" })
}

// TestWatchSpread: watches given every node spread over them.
func TestWatchSpread(t *testing.T) {
	c := startCluster(t, 3)
	creds := c.credentials()
	var eps []string
	for _, n := range c.nodes {
		eps = append(eps, n.endpoint())
	}
	cl, err := client.New(t.Context(), client.Config{
		Endpoints: eps, Region: "us-east-1",
		Credentials:         credentials.NewStaticCredentialsProvider(creds.ID, creds.Secret, ""),
		HealthCheckInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const watches = 60
	for range watches {
		if _, err := cl.Watch(t.Context(), "/spread"); err != nil {
			t.Fatal(err)
		}
	}
	var counts []int
	waitUntil(t, 30*time.Second, "every watch waiting", func() bool {
		counts = counts[:0]
		sum := 0
		for _, n := range c.nodes {
			v, _ := strconv.Atoi(scrapeWatchers(n.endpoint()))
			counts = append(counts, v)
			sum += v
		}
		return sum == watches
	})
	t.Logf("watches per node: %v", counts)
	for i, v := range counts {
		if v == 0 {
			t.Errorf("node %s holds none of the %d watches (%v): they do not spread", c.nodes[i].id, watches, counts)
		}
	}
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
