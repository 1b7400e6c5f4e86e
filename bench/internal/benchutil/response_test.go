package benchutil

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// responses are HTTP/1.1 answers of every framing readResponse handles,
// each followed by the start of the next response on the connection.
var responses = []string{
	"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 13\r\n\r\n{\"Parameter\"}",
	"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
	"HTTP/1.1 400 Bad Request\r\nContent-Length: 26\r\nConnection: keep-alive\r\n\r\n{\"__type\":\"ValidationErr\"}",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
	"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nbad\r\n0\r\nX-Trailer: t\r\n\r\n",
	"HTTP/1.1 204 No Content\r\nDate: Tue, 01 Dec 2026 03:00:00 GMT\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
	"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5000\r\n\r\n" + strings.Repeat("e", 5000),
	"HTTP/1.1 200 OK\nContent-Length: 3\n\nabc",
}

const next = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"

// TestReadResponse: readResponse reads what http.ReadResponse reads (the
// status, whether the connection closes, the body) and stops at the end of
// the response, where the next one starts.
func TestReadResponse(t *testing.T) {
	for _, raw := range responses {
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
		if err != nil {
			t.Fatalf("net/http: %q: %v", raw, err)
		}
		wantBody, _ := io.ReadAll(resp.Body)
		br := bufio.NewReaderSize(strings.NewReader(raw+next), 16<<10)
		var answer []byte
		status, closeConn, err := readResponse(br, &answer)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if status != resp.StatusCode || closeConn != resp.Close {
			t.Errorf("%q: status %d close %v, want %d %v", raw, status, closeConn, resp.StatusCode, resp.Close)
		}
		want := ""
		if status != http.StatusOK {
			want = string(wantBody[:min(len(wantBody), 4096)])
		}
		if string(answer) != want {
			t.Errorf("%q: answer %q, want %q", raw, answer, want)
		}
		if closeConn {
			continue // nothing may follow
		}
		if status, _, err := readResponse(br, &answer); err != nil || status != 200 {
			t.Errorf("%q: the next response: %d, %v", raw, status, err)
		}
		if rest, _ := io.ReadAll(br); len(rest) != 0 {
			t.Errorf("%q: %q left after the next response", raw, rest)
		}
	}
}

// TestReadResponseErrors: what cannot be framed is an error, not a guess.
func TestReadResponseErrors(t *testing.T) {
	for _, raw := range []string{
		"",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"SSH-2.0-OpenSSH\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\n" + strings.Repeat("X", 20<<10) + "\r\n\r\n",
	} {
		var answer []byte
		if status, _, err := readResponse(bufio.NewReaderSize(strings.NewReader(raw), 16<<10), &answer); err == nil {
			t.Errorf("%.60q: status %d, want an error", raw, status)
		}
	}
}

// FuzzReadResponse: any bytes from the server give an answer or an error,
// never a panic or a hang.
func FuzzReadResponse(f *testing.F) {
	for _, raw := range responses {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var answer []byte
		status, _, err := readResponse(bufio.NewReaderSize(strings.NewReader(raw), 4096), &answer)
		if err == nil && (status < 100 || status > 999 || len(answer) > 4096) {
			t.Fatalf("status %d, %d bytes of answer", status, len(answer))
		}
	})
}

// BenchmarkReadResponse reads a GetParameter answer as the server sends it,
// with net/http's parser (what Conn used) and with readResponse.
func BenchmarkReadResponse(b *testing.B) {
	raw := "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amzn-Requestid: 5f0c3a52-3b4e-4c3e-9d7c-2f1f6f9e8a11\r\n" +
		"Date: Tue, 01 Dec 2026 03:00:00 GMT\r\nContent-Length: 263\r\n\r\n" +
		`{"Parameter":{"ARN":"arn:aws:ssm:us-east-1:123456789012:parameter/loadgen/p0000001","DataType":"text","LastModifiedDate":1.764558e+09,"Name":"/loadgen/p0000001","Type":"String","Value":"` +
		strings.Repeat("x", 64) + `","Version":1}}`
	raw = raw[:strings.Index(raw, "Content-Length: ")] + "Content-Length: " + strconv.Itoa(len(raw)-strings.Index(raw, "\r\n\r\n")-4) + raw[strings.Index(raw, "\r\n\r\n"):]
	src := strings.NewReader(raw)
	br := bufio.NewReaderSize(src, 16<<10)
	b.Run("nethttp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			src.Reset(raw)
			br.Reset(src)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.Run("lean", func(b *testing.B) {
		var answer []byte
		b.ReportAllocs()
		for b.Loop() {
			src.Reset(raw)
			br.Reset(src)
			if _, _, err := readResponse(br, &answer); err != nil {
				b.Fatal(err)
			}
		}
	})
}
