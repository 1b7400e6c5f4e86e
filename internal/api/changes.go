package api

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/paramstore/paramstore/internal/service"
	"github.com/paramstore/paramstore/internal/ssm"
)

// answerWriteTimeout bounds the write of a change-stream answer: a client
// that does not take a page in that time loses its connection, and stalls
// nobody else.
const answerWriteTimeout = 10 * time.Second

// Answers of parked long polls are written by answerWorkers goroutines
// (queued up to answerQueue, past which each gets a goroutine), so that a
// change seen by a hundred thousand watchers does not start as many
// goroutines and HTTP connections at once. A worker writes what a
// client's socket takes at once; the rest is finished in a goroutine of
// its own. Workers yield every answerBatch answers, and step aside while
// writes are in flight (parkListener.pace).
const (
	answerBatch = 32
	answerQueue = 1 << 16
)

// A worker that finds writes in flight after a slice of answers pauses
// for as long as the slice took, at most maxAnswerPause, or until the
// writes are done: while writes are in flight a fan-out takes at most half
// of a processor's time.
const maxAnswerPause = 2 * time.Millisecond

// writeGate counts the calls in flight that may change state, and wakes
// those that wait for there to be none.
type writeGate struct {
	n       atomic.Int64
	waiting atomic.Bool // someone waits on idle
	mu      sync.Mutex
	idle    chan struct{} // closed when n drops to 0 (nil: nobody waits)
}

func (g *writeGate) begin() { g.n.Add(1) }

func (g *writeGate) end() {
	if g.n.Add(-1) == 0 && g.waiting.Load() {
		g.mu.Lock()
		if g.idle != nil {
			close(g.idle)
			g.idle = nil
		}
		g.waiting.Store(false)
		g.mu.Unlock()
	}
}

// wait waits until no write is in flight or t fires (t stopped and its
// channel drained: reset here to d).
func (g *writeGate) wait(t *time.Timer, d time.Duration) {
	g.mu.Lock()
	if g.idle == nil {
		g.idle = make(chan struct{})
	}
	idle := g.idle
	g.waiting.Store(true)
	g.mu.Unlock()
	if g.n.Load() == 0 { // (ended before waiting was seen: end may not close idle)
		return
	}
	t.Reset(d)
	select {
	case <-idle:
		t.Stop()
	case <-t.C:
	}
}

// answerWorkers is how many goroutines write the answers on procs
// processors (GOMAXPROCS): all but one, and at least one. A fan-out to ten
// thousand watchers is ten thousand writes in a row; were every processor
// busy with them, the Go scheduler would look for network events (a
// write's request arriving, a follower's raft reply) only when its
// monitor forces it, every 10 ms, and each network step of a write would
// wait for that. A processor left to the rest keeps a thread in the
// network poller while the fan-out runs.
func answerWorkers(procs int) int {
	return max(1, procs-1)
}

// changes serves the change stream that agents follow:
//
//	GET /_paramstore/changes?path=/app&recursive=true&since=N&wait=30
//
// signed with SigV4 like any call (GET, empty body), authorized as
// ssm:GetParametersByPath on the path. It answers {"Index", "Changes",
// "Reset"} at once when there are changes to parameters below path after
// index since, else after up to wait seconds (at most 60). since 0 returns
// the current index.
//
// A long poll that has to wait is parked in the change hub
// (service.Hub). Over HTTP/1.x on a listener from Listener, its connection
// is taken from net/http (hijacked) while it waits: it holds no goroutine
// and no buffers, only its socket and a small record in the hub's index.
// The hub's answer is written straight to the socket and the connection
// handed back to the HTTP server for the client's next request.
func (h *Handler) changes(w http.ResponseWriter, r *http.Request) {
	c := &call{reqID: uuid.NewString(), op: "Changes", start: h.cfg.Now()}
	w.Header().Set("x-amzn-RequestId", c.reqID)
	fail := func(e *ssm.Error) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("X-Amzn-ErrorType", e.Code)
		if e.Code == ssm.CodeServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(e.HTTPStatus())
		w.Write(errorBody(e))
		h.metrics.observe(c.op, e.HTTPStatus(), e.Code, h.cfg.Now().Sub(c.start))
	}
	caller, _, err := h.authenticate(r, c)
	if err != nil {
		e := service.AWSError(err)
		logFailure(h.log, c.reqID, c.op, e)
		fail(e)
		return
	}
	q := r.URL.Query()
	path := q.Get("path")
	if path == "" {
		path = "/"
	}
	recursive := true
	if v := q.Get("recursive"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			fail(ssm.ErrValidation("recursive must be true or false"))
			return
		}
		recursive = b
	}
	var since uint64
	if v := q.Get("since"); v != "" {
		if since, err = strconv.ParseUint(v, 10, 64); err != nil {
			fail(ssm.ErrValidation("since must be a raft index (an unsigned integer)"))
			return
		}
	}
	wait := 30 * time.Second
	if v := q.Get("wait"); v != "" {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || secs < 0 {
			fail(ssm.ErrValidation("wait must be a number of seconds"))
			return
		}
		wait = time.Duration(min(secs, service.MaxChangesWait.Seconds()) * float64(time.Second))
	}
	stream := false
	if v := q.Get("stream"); v != "" {
		if stream, err = strconv.ParseBool(v); err != nil {
			fail(ssm.ErrValidation("stream must be true or false"))
			return
		}
	}
	if stream && h.hub != nil && wait > 0 {
		if pc := h.park(w, r, c); pc != nil {
			pc.stream = true
			pc.raw = newRawWriter(pc.conn)
			if tc, ok := pc.conn.(*net.TCPConn); ok {
				tc.SetWriteBuffer(streamSendBuffer)
			}
			watch, err := h.hub.Stream(r.Context(), caller, path, recursive, since, wait, streamLife, pc.deliverStream)
			if err != nil {
				pc.mu.Lock()
				started := pc.started
				pc.mu.Unlock()
				if started {
					// Pages went out already (the status too): cut the
					// stream, never answer the request a second time.
					pc.deliverStream(&service.Page{Err: err})
					return
				}
				pc.stream = false
				pc.deliver(&service.Page{Err: err})
				return
			}
			pc.mu.Lock()
			pc.watch = watch
			dead := pc.dead
			pc.mu.Unlock()
			if dead {
				h.hub.Cancel(watch)
			}
			return
		}
		// Not HTTP/1.x on our listener: a long poll instead, which the
		// client tells by its Content-Type.
	}
	if h.hub == nil || since == 0 || wait <= 0 {
		wait = 0
	}
	write := func(p *service.Page) {
		if p.Err != nil {
			e := service.AWSError(p.Err)
			logFailure(h.log, c.reqID, c.op, e)
			fail(e)
			return
		}
		// A client that stops reading holds only this request.
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(answerWriteTimeout))
		w.Header().Set("Content-Type", "application/json")
		w.Write(p.JSON())
		h.metrics.observe(c.op, http.StatusOK, "", h.cfg.Now().Sub(c.start))
	}
	if wait == 0 {
		out, err := h.svc.Changes(r.Context(), caller, path, recursive, since)
		write(&service.Page{Out: out, Err: err})
		return
	}
	if pc := h.park(w, r, c); pc != nil {
		page, _, err := h.hub.Watch(r.Context(), caller, path, recursive, since, wait, pc.deliver)
		if err != nil {
			pc.deliver(&service.Page{Err: err})
		} else if page != nil {
			pc.deliver(page)
		}
		return
	}
	// HTTP/2, or a listener that cannot take connections back: wait here.
	ch := make(chan *service.Page, 1)
	page, watch, err := h.hub.Watch(r.Context(), caller, path, recursive, since, wait, func(p *service.Page) { ch <- p })
	if err != nil {
		write(&service.Page{Err: err})
		return
	}
	if page == nil {
		select {
		case page = <-ch:
		case <-r.Context().Done():
			if h.hub.Cancel(watch) {
				return // the client went away during its long poll
			}
			page = <-ch
		}
	}
	write(page)
}

// parkedConn is a hijacked connection whose long poll waits in the hub.
type parkedConn struct {
	h     *Handler
	reqID string
	start time.Time
	conn  net.Conn
	close bool // the client asked to close after this answer
	page  *service.Page

	// A stream (stream=true) writes its pages, in order, as chunks of
	// one chunked response of NDJSON lines.
	stream   bool
	mu       sync.Mutex
	queue    []*service.Page
	spare    []*service.Page // the drainer's, for the next queue
	active   bool            // queued for, or being written by, a worker
	headSent bool
	started  bool // a page was queued
	dead     bool
	watch    *service.Watch
	raw      *rawWriter // tryWrite's, made once (nil: not a plain socket)
}

// streamLife bounds a stream: its client then asks again, and is
// authenticated and authorized again.
const streamLife = 10 * time.Minute

// streamSendBuffer is the socket send buffer of a stream (SO_SNDBUF; the
// kernel doubles it): room for many pages, so that a live client never
// waits on it, but not the megabytes TCP autotuning may give a socket,
// which across a fleet of watchers is kernel memory that a client which
// stopped reading holds for nothing; past it, the stream lags (slow).
const streamSendBuffer = 32 << 10

// streamBacklog is how many pages a stream may have waiting for its
// client; one that falls further behind is cut off (it resumes from its
// index on a new request).
const streamBacklog = 64

// streamPatience is how long a stream's client may take to make room for
// its next pages (in its socket buffer: a live client takes them at once).
const streamPatience = time.Second

// patience is streamPatience, but for tests (SetStreamPatience).
var patience atomic.Int64

func streamPatienceNow() time.Duration {
	if d := patience.Load(); d > 0 {
		return time.Duration(d)
	}
	return streamPatience
}

// deliverStream queues a page of a stream.
func (pc *parkedConn) deliverStream(p *service.Page) {
	pc.mu.Lock()
	if pc.dead {
		pc.mu.Unlock()
		return
	}
	pc.queue = append(pc.queue, p)
	pc.started = true
	if len(pc.queue) > streamBacklog {
		pc.dead = true
		pc.mu.Unlock()
		pc.kill()
		return
	}
	if pc.active {
		pc.mu.Unlock()
		return
	}
	pc.active = true
	pc.mu.Unlock()
	select {
	case pc.h.listener.answers <- pc:
	default:
		go pc.drain()
	}
}

// kill ends a stream that failed: its connection closes, its watch goes.
func (pc *parkedConn) kill() {
	pc.conn.Close()
	pc.mu.Lock()
	w := pc.watch
	pc.mu.Unlock()
	if w != nil {
		pc.h.hub.Cancel(w)
	}
}

// drain writes the stream's queued pages from an answer worker: only what
// the socket takes at once (tryWrite), never waiting for the client. What
// it does not take is finished by a goroutine of the stream's own (slow),
// which the stream keeps while it lags, so that a client that reads slowly,
// or not at all, delays no other stream's pages; one that does not take
// them within streamPatience is cut (it resumes from its index).
func (pc *parkedConn) drain() {
	for {
		buf, end, failed, ok := pc.next()
		if !ok {
			return
		}
		n, tried, err := pc.tryWrite(buf)
		if err == nil && (!tried || n < len(buf)) {
			// The socket is full (or TLS, which cannot write in part
			// without waiting): the rest waits in a goroutine.
			go pc.slow(buf[n:], end, failed)
			return
		}
		if pc.wrote(err, end, failed) {
			return
		}
	}
}

// slow finishes writing rest, then the stream's next pages, waiting for
// the client up to streamPatience each time, until the queue is empty;
// the stream then goes back to the answer workers.
func (pc *parkedConn) slow(rest []byte, end, failed bool) {
	pc.h.lagging.Add(1)
	defer pc.h.lagging.Add(-1)
	for {
		pc.conn.SetWriteDeadline(time.Now().Add(streamPatienceNow()))
		_, err := pc.conn.Write(rest)
		if err == nil {
			pc.conn.SetWriteDeadline(time.Time{})
		}
		if pc.wrote(err, end, failed) {
			return
		}
		var ok bool
		if rest, end, failed, ok = pc.next(); !ok {
			return
		}
	}
}

// next takes the queued pages and frames them: the response head first,
// then one chunk per page (the page's own bytes, shared with every stream,
// when it is the only one), the last chunk for an End. ok is false when
// there is nothing to write (the stream is no longer active).
func (pc *parkedConn) next() (buf []byte, end, failed, ok bool) {
	h := pc.h
	pc.mu.Lock()
	if pc.dead || len(pc.queue) == 0 {
		pc.active = false
		pc.mu.Unlock()
		return nil, false, false, false
	}
	pages := pc.queue
	pc.queue = pc.spare[:0]
	pc.mu.Unlock()
	if !pc.headSent {
		pc.headSent = true
		buf = pc.head(http.StatusOK, "application/x-ndjson", "", -1, false)
		h.metrics.observe("Changes", http.StatusOK, "", h.cfg.Now().Sub(pc.start))
	}
	for _, p := range pages {
		switch {
		case p.Err != nil:
			failed = true // (the status was sent: cut the stream; the client moves)
		case p.End:
			buf = append(buf, "0\r\n\r\n"...)
			end = true
		case buf == nil && len(pages) == 1:
			buf = p.Chunk() // (never appended to: len(pages) == 1)
		default:
			buf = append(buf, p.Chunk()...)
		}
		if end || failed {
			break
		}
	}
	clear(pages)
	pc.spare = pages[:0] // (the drainer's own: one at a time, by active)
	return buf, end, failed, true
}

// wrote ends the stream after a failed write, an error page or its end;
// it reports whether the stream is over.
func (pc *parkedConn) wrote(err error, end, failed bool) bool {
	if err != nil || failed {
		pc.mu.Lock()
		pc.dead = true
		pc.mu.Unlock()
		pc.kill()
		return true
	}
	if end {
		pc.mu.Lock()
		pc.dead = true
		pc.mu.Unlock()
		if pc.close || pc.h.isStopping() {
			pc.conn.Close()
		} else {
			pc.conn.SetWriteDeadline(time.Time{})
			pc.h.listener.giveBack(pc.conn)
		}
		return true
	}
	return false
}

// rawWriter writes to a connection's socket without waiting (tryWrite).
// It is made once per stream, with the method value that the socket's
// RawConn.Write calls, so that a page's write allocates nothing.
type rawWriter struct {
	rc    syscall.RawConn
	write func(fd uintptr) bool // (w.writeFD)
	b     []byte
	n     int
	err   error
}

// newRawWriter returns the rawWriter of c, or nil when c is not a plain
// socket (TLS cannot write a record in part without waiting).
func newRawWriter(c net.Conn) *rawWriter {
	if p, ok := c.(*prefixConn); ok {
		c = p.Conn
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &rawWriter{rc: rc}
	w.write = w.writeFD
	return w
}

func (w *rawWriter) writeFD(fd uintptr) bool {
	for w.n < len(w.b) {
		m, e := syscall.Write(int(fd), w.b[w.n:])
		if m > 0 {
			w.n += m
		}
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return true // full: the rest waits (never for the poller here)
		case e != nil:
			w.err = e
			return true
		case m <= 0:
			return true
		}
	}
	return true
}

// tryWrite writes what pc's socket takes now, without waiting: n < len(b)
// when its send buffer filled. tried is false when pc's connection is not
// a plain socket: nothing was written. One write(2) when the socket has
// room, which a live client's has.
func (pc *parkedConn) tryWrite(b []byte) (n int, tried bool, err error) {
	w := pc.raw
	if w == nil {
		return 0, false, nil
	}
	w.b, w.n, w.err = b, 0, nil
	werr := w.rc.Write(w.write)
	n, err = w.n, w.err
	w.b = nil
	if err == nil {
		err = werr
	}
	return n, true, err
}

// head is the status line and headers of an answer; length < 0 means
// chunked.
func (pc *parkedConn) head(status int, ctype, errType string, length int, closing bool) []byte {
	hdr := make([]byte, 0, 256)
	hdr = append(hdr, "HTTP/1.1 "...)
	hdr = strconv.AppendInt(hdr, int64(status), 10)
	hdr = append(hdr, ' ')
	hdr = append(hdr, http.StatusText(status)...)
	hdr = append(hdr, "\r\nContent-Type: "...)
	hdr = append(hdr, ctype...)
	hdr = append(hdr, "\r\nX-Amzn-Requestid: "...)
	hdr = append(hdr, pc.reqID...)
	if errType != "" {
		hdr = append(hdr, "\r\nX-Amzn-Errortype: "...)
		hdr = append(hdr, errType...)
		if errType == ssm.CodeServiceUnavailable {
			hdr = append(hdr, "\r\nRetry-After: 1"...)
		}
	}
	hdr = append(hdr, "\r\nDate: "...)
	hdr = time.Now().UTC().AppendFormat(hdr, http.TimeFormat)
	if length < 0 {
		hdr = append(hdr, "\r\nTransfer-Encoding: chunked"...)
	} else {
		hdr = append(hdr, "\r\nContent-Length: "...)
		hdr = strconv.AppendInt(hdr, int64(length), 10)
	}
	if closing {
		hdr = append(hdr, "\r\nConnection: close"...)
	}
	return append(hdr, "\r\n\r\n"...)
}

// park hijacks the request's connection, or returns nil when it cannot
// (then the request waits in its handler).
func (h *Handler) park(w http.ResponseWriter, r *http.Request, c *call) *parkedConn {
	if h.listener == nil || r.ProtoMajor != 1 {
		return nil
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil
	}
	if n := rw.Reader.Buffered(); n > 0 {
		// The client sent more (a pipelined request): keep it for the
		// HTTP server, which reads it after the answer.
		buf, _ := rw.Reader.Peek(n)
		conn = &prefixConn{Conn: conn, r: io.MultiReader(bytes.NewReader(bytes.Clone(buf)), conn)}
	}
	conn.SetWriteDeadline(time.Time{}) // (tryWrite fails past one; the HTTP server's, if any, was for the request)
	return &parkedConn{h: h, reqID: c.reqID, start: c.start, conn: conn, close: r.Close || !r.ProtoAtLeast(1, 1)}
}

// deliver queues the answer of the long poll for the answer workers: the
// hub never waits for a client.
func (pc *parkedConn) deliver(p *service.Page) {
	pc.page = p
	select {
	case pc.h.listener.answers <- pc:
	default:
		go pc.answer(false)
	}
}

func (l *parkListener) answerLoop() {
	pause := time.NewTimer(time.Hour)
	pause.Stop()
	var slice time.Time // when the slice's first answer was taken
	for n := 0; ; n++ {
		select {
		case pc := <-l.answers:
			if n%answerBatch == 0 {
				slice = time.Now()
			}
			pc.write()
			if n%answerBatch == answerBatch-1 {
				l.pace(slice, pause)
			}
		case <-l.closed:
			// The server is going: what is queued is the last pages the
			// hub gave as it closed (the server closes the hub first).
			// They are written as far as each socket takes them at once,
			// and their connections closed (none goes back).
			for {
				select {
				case pc := <-l.answers:
					pc.write()
				default:
					return
				}
			}
		}
	}
}

// pace ends a slice of answers, begun at start. With no write in flight
// the worker only yields (runtime.Gosched), and the fan-out goes on at
// full speed. While a call that may change state is in flight it pauses
// as long as the slice took (at most maxAnswerPause), or until no write is
// left: its thread sleeps, so that the write's goroutines (its audit
// record's fsync, raft's, each a hand-over between goroutines) find a
// processor at once rather than behind the fan-out's write system calls,
// and the operating system gives the cores to the process's other
// threads. A fan-out thus takes at most half of a processor's time while
// writes go on, and never stops for them: a write that hangs (a stuck
// disk) makes it about twice as long (the pauses, and the time the
// sleeping thread takes to wake).
func (l *parkListener) pace(start time.Time, pause *time.Timer) {
	if l.writing == nil || noPacing.Load() || l.writing.n.Load() == 0 {
		runtime.Gosched()
		return
	}
	l.pauses.Add(1)
	l.writing.wait(pause, min(time.Since(start), maxAnswerPause))
}

// noPacing turns pace's pauses off, for benchmarks that compare
// (SetAnswerPacing).
var noPacing atomic.Bool

// write writes what was delivered to pc, from an answer worker.
func (pc *parkedConn) write() {
	if pc.stream {
		pc.drain()
	} else {
		pc.answer(true)
	}
}

// answer writes the page, then hands the connection back to the HTTP
// server. From an answer worker (worker) it never waits for the client.
func (pc *parkedConn) answer(worker bool) {
	h, p := pc.h, pc.page
	status, ctype, body, errType := http.StatusOK, "application/json", []byte(nil), ""
	if p.Err != nil {
		e := service.AWSError(p.Err)
		logFailure(h.log, pc.reqID, "Changes", e)
		status, ctype, body, errType = e.HTTPStatus(), contentType, errorBody(e), e.Code
	} else {
		body = p.JSON()
	}
	closing := pc.close || h.isStopping()
	buf := append(pc.head(status, ctype, errType, len(body), closing), body...)
	// One write, without a deadline, takes it when the client's socket
	// has room (a waiting client's has); the rest, if any, is written with
	// the client's patience in a goroutine of its own.
	if pc.raw == nil {
		pc.raw = newRawWriter(pc.conn)
	}
	n, _, err := pc.tryWrite(buf)
	if err != nil || n == len(buf) {
		pc.finish(status, errType, closing, false, err)
		return
	}
	rest := buf[n:]
	slow := func() {
		pc.conn.SetWriteDeadline(time.Now().Add(answerWriteTimeout))
		_, err := pc.conn.Write(rest)
		pc.finish(status, errType, closing, true, err)
	}
	if worker {
		go slow() // (a full socket, or TLS, which cannot write in part without waiting)
		return
	}
	slow()
}

// finish ends a long poll's answer: its connection goes back to the HTTP
// server, or is closed after an error or when the client asked; deadline
// says a write deadline was set (cleared before the connection goes back).
func (pc *parkedConn) finish(status int, errType string, closing, deadline bool, err error) {
	h := pc.h
	h.metrics.observe("Changes", status, errType, h.cfg.Now().Sub(pc.start))
	if err != nil || closing {
		pc.conn.Close()
		return
	}
	if deadline {
		pc.conn.SetWriteDeadline(time.Time{})
	}
	h.listener.giveBack(pc.conn)
}

func (h *Handler) isStopping() bool {
	select {
	case <-h.stopping:
		return true
	default:
		return false
	}
}

// prefixConn is a connection whose first bytes were read already.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Listener wraps the API's listener so that the connections of long polls
// answered by the change hub return to the HTTP server (http.Server.Serve
// it) for their next request. Without it long polls wait in their handler.
func (h *Handler) Listener(ln net.Listener) net.Listener {
	l := &parkListener{Listener: ln, back: make(chan net.Conn), accepted: make(chan acceptResult), closed: make(chan struct{}),
		answers: make(chan *parkedConn, answerQueue), writing: &h.writing}
	go l.pump()
	for range answerWorkers(runtime.GOMAXPROCS(0)) {
		go l.answerLoop()
	}
	h.listener = l
	return l
}

type acceptResult struct {
	c   net.Conn
	err error
}

// parkListener accepts new connections and connections given back.
type parkListener struct {
	net.Listener
	back      chan net.Conn
	accepted  chan acceptResult
	closed    chan struct{}
	closeOnce sync.Once
	answers   chan *parkedConn
	writing   *writeGate   // Handler.writing: calls in flight that may change state
	pauses    atomic.Int64 // how many times the answer workers paused for them (pace)
}

func (l *parkListener) pump() {
	for {
		c, err := l.Listener.Accept()
		select {
		case l.accepted <- acceptResult{c, err}:
		case <-l.closed:
			if c != nil {
				c.Close()
			}
			return
		}
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) && !isTemporary(err) {
			return
		}
	}
}

// isTemporary reports an accept error worth retrying (EMFILE, ECONNABORTED...),
// as http.Server does.
func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

func (l *parkListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.back:
		return c, nil
	case r := <-l.accepted:
		return r.c, r.err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *parkListener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		close(l.closed)
		err = l.Listener.Close()
	})
	return err
}

// giveBack hands a connection to the HTTP server as if it were new.
func (l *parkListener) giveBack(c net.Conn) {
	select {
	case l.back <- c:
	case <-l.closed:
		c.Close()
	}
}

// watchersCollectors export the hub's parked long polls and streams, and
// their limit.
func watchersCollectors(hub *service.Hub, limit int, lagging *atomic.Int64) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paramstore_changes_watchers",
			Help: "Change-stream long polls and streams waiting on this node (bounded by --max-watchers).",
		}, func() float64 { return float64(hub.Watchers()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paramstore_changes_watchers_limit",
			Help: "This node's --max-watchers (0: none).",
		}, func() float64 { return float64(limit) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "paramstore_changes_streams_lagging",
			Help: "Change streams whose client has not yet taken the pages its socket could not (each is cut after 1s of that).",
		}, func() float64 { return float64(lagging.Load()) }),
	}
}
