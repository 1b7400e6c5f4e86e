package service

import (
	"fmt"
	"sync"
	"testing"
)

// Writers of different parameters never wait for each other: one goroutine
// holds the locks of 1,000 names at once. With the 256 striped mutexes
// this replaced, two of those names shared a mutex and the test hung there.
func TestWriteLocksDifferentNamesDoNotShare(t *testing.T) {
	var w writeLocks
	held := make([]heldLock, 0, 1000)
	for i := range 1000 {
		held = append(held, w.lock("123456789012/us-east-1", fmt.Sprintf("/app/p%04d", i)))
	}
	// The same name in another tenancy is another parameter.
	held = append(held, w.lock("210987654321/us-east-1", "/app/p0000"))
	for _, h := range held {
		w.unlock(h)
	}
	if n := w.count(); n != 0 {
		t.Fatalf("%d locks left after every writer unlocked", n)
	}
}

// Writers of one parameter hold its lock one at a time (the race detector
// and the count check it), and the lock is dropped once the last leaves.
func TestWriteLocksSameNameExclude(t *testing.T) {
	var w writeLocks
	const writers, rounds = 8, 200
	counter := 0
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range rounds {
				h := w.lock("123456789012/us-east-1", "/hot")
				counter++
				w.unlock(h)
			}
		})
	}
	wg.Wait()
	if counter != writers*rounds {
		t.Fatalf("counter = %d, want %d: two writers held the lock together", counter, writers*rounds)
	}
	if n := w.count(); n != 0 {
		t.Fatalf("%d locks left after every writer unlocked", n)
	}
}

// count is how many parameters' locks exist (held or waited for).
func (w *writeLocks) count() int {
	n := 0
	for i := range w.shards {
		sh := &w.shards[i]
		sh.mu.Lock()
		n += len(sh.locks)
		sh.mu.Unlock()
	}
	return n
}

func BenchmarkWriteLocks(b *testing.B) {
	var w writeLocks
	names := make([]string, 1024)
	for i := range names {
		names[i] = fmt.Sprintf("/app/p%04d", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			w.unlock(w.lock("123456789012/us-east-1", names[i%len(names)]))
			i++
		}
	})
}
