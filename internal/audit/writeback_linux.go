package audit

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing the n bytes at off of f
// to the disk now, without waiting for them (sync_file_range with
// SYNC_FILE_RANGE_WRITE): the fsync that makes them durable later then
// has less to wait for. It is a hint: durability still comes from that
// fsync, and an error (a file that is not a plain *os.File, a file system
// that does not support it) is ignored.
//
// The writer calls it after each write that is not followed by an fsync
// (records nobody waits for, fsynced every Config.SyncInterval). An fsync
// holds one of the Go scheduler's Ps while it runs; after a 200 ms read
// load's worth of written records it took a median 4-5 ms on this
// machine's disk, and 0.4-1.9 ms once their writeback had been started as
// they were written (a 600 KiB write every 50 ms, 25 fsyncs per run,
// alternating runs; each hint took 90-130 µs).
func startWriteback(f trailFile, off, n int64) {
	sc, ok := f.(syscall.Conn)
	if !ok || n <= 0 {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
