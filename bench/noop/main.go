// Command noop is the ceiling for an HTTP JSON service on this machine: a
// Go net/http server that reads the request body and answers a canned
// GetParameter response, doing nothing else. Side-by-side benchmarks
// report Paramstore's requests/s as a fraction of this.
//
//	go run ./bench/noop -listen 127.0.0.1:4599
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
)

const canned = `{"Parameter":{"Name":"/bench/p1","Type":"String","Value":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","Version":1,"LastModifiedDate":1795240004.215,"ARN":"arn:aws:ssm:us-east-1:123456789012:parameter/bench/p1","DataType":"text"}}`

func main() {
	listen := flag.String("listen", "127.0.0.1:4599", "address")
	flag.Parse()
	body := []byte(canned)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
		w.Write(body)
	})
	log.Fatal(http.ListenAndServe(*listen, h))
}
