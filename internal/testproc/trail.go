package testproc

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
)

// TrailPut is what a test reads of the PutParameter records of one
// parameter in an audit trail (TrailPuts).
type TrailPut struct {
	// Intents counts its AwsApiCallIntent records; RaftIndex is the
	// raftIndex of the last one (0: not carried in the raft log).
	Intents   int
	RaftIndex uint64
	// First is the kind of its first record: "intent" or "result".
	First string
}

// TrailPuts reads the PutParameter records of the audit trail at path, by
// parameter name.
func TrailPuts(t testing.TB, path string) map[string]*TrailPut {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]*TrailPut{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var rec struct {
			EventName         string `json:"eventName"`
			EventType         string `json:"eventType"`
			RaftIndex         uint64 `json:"raftIndex"`
			RequestParameters struct {
				Name string `json:"Name"`
			} `json:"requestParameters"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s: a trail line: %v", path, err)
		}
		if rec.EventName != "PutParameter" {
			continue
		}
		intent := rec.EventType == "AwsApiCallIntent"
		p := out[rec.RequestParameters.Name]
		if p == nil {
			p = &TrailPut{First: "result"}
			if intent {
				p.First = "intent"
			}
			out[rec.RequestParameters.Name] = p
		}
		if intent {
			p.Intents++
			p.RaftIndex = rec.RaftIndex
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
