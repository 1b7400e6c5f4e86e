package service

import (
	"hash/maphash"
	"sync"
)

// writeLocks serialize the writes of this server to one parameter (spec
// §14), so concurrent writers of a hot parameter queue instead of failing
// each other's compare-and-set. There is one lock per parameter being
// written, made by its first writer and dropped by its last: writers of
// different parameters never wait for each other. (A fixed set of 256
// striped mutexes made unrelated names share one: with 64 writes in flight,
// about one in five waited for another parameter's whole raft round trip.)
type writeLocks struct {
	shards [writeLockShards]writeLockShard
}

// writeLockShards spreads the map of held locks so that writers do not all
// take one mutex to find theirs.
const writeLockShards = 64

var writeLockSeed = maphash.MakeSeed()

type writeLockShard struct {
	mu    sync.Mutex
	locks map[writeLockKey]*writeLock
}

type writeLockKey struct{ tenancy, name string }

type writeLock struct {
	mu sync.Mutex
	// users counts the writers holding or waiting for mu, under the
	// shard's mutex: the last one out removes the lock from the map.
	users int
}

var writeLockPool = sync.Pool{New: func() any { return new(writeLock) }}

// heldLock is a lock returned by writeLocks.lock, for unlock.
type heldLock struct {
	shard *writeLockShard
	key   writeLockKey
	lock  *writeLock
}

// lock waits until no other writer of this server holds the parameter
// (tenancy, key) and takes it; pass the result to unlock.
func (w *writeLocks) lock(tenancy, key string) heldLock {
	k := writeLockKey{tenancy, key}
	sh := &w.shards[maphash.Comparable(writeLockSeed, k)%writeLockShards]
	sh.mu.Lock()
	l := sh.locks[k]
	if l == nil {
		if sh.locks == nil {
			sh.locks = make(map[writeLockKey]*writeLock)
		}
		l = writeLockPool.Get().(*writeLock)
		sh.locks[k] = l
	}
	l.users++
	sh.mu.Unlock()
	l.mu.Lock()
	return heldLock{shard: sh, key: k, lock: l}
}

// unlock releases a lock taken by lock.
func (w *writeLocks) unlock(h heldLock) {
	h.lock.mu.Unlock()
	sh := h.shard
	sh.mu.Lock()
	h.lock.users--
	if h.lock.users == 0 {
		delete(sh.locks, h.key)
		writeLockPool.Put(h.lock)
	}
	sh.mu.Unlock()
}
