package api

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// threadNice is the nice value of the process's thread tid (field 19 of
// /proc/self/task/TID/stat), or of the process's main thread for tid 0.
func threadNice(t *testing.T, tid int) int {
	t.Helper()
	path := "/proc/self/stat"
	if tid != 0 {
		path = "/proc/self/task/" + strconv.Itoa(tid) + "/stat"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Field 2, the command, is in parentheses and may hold spaces: the
	// fields after its closing one are 3, 4, ...
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 17 {
		t.Fatalf("%s: %d fields after the command, want at least 17: %q", path, len(fields), s)
	}
	n, err := strconv.Atoi(fields[19-3])
	if err != nil {
		t.Fatalf("%s: field 19: %v", path, err)
	}
	return n
}

// TestAnswerThreadNice: each answer worker runs on a thread of its own at
// nice answerNice (so that a write's threads win the cores from a
// fan-out), and the rest of the process keeps its nice value.
func TestAnswerThreadNice(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{}
	l := h.Listener(ln).(*parkListener)
	defer l.Close()
	main := threadNice(t, 0)
	if main == answerNice {
		t.Fatalf("the test runs at nice %d already: it could not tell", main)
	}
	for range cap(l.answerTIDs) {
		tid := <-l.answerTIDs
		if got := threadNice(t, tid); got != answerNice {
			t.Errorf("answer worker thread %d: nice %d, want %d", tid, got, answerNice)
		}
	}
	if got := threadNice(t, 0); got != main {
		t.Errorf("main thread's nice went from %d to %d", main, got)
	}
}
