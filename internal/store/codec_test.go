package store

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var testNowTime = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// fullPut is a put command with every member the compact form carries set.
func fullPut() *Command {
	return &Command{Op: OpPut, ID: NewCommandID(testNowTime), Tenancy: testTenancy, Name: "/app/db/url", Create: false,
		Expect: 1 << 40, Quota: 10000, Time: 1_700_000_000_123, Prune: []int64{1, 2},
		Param: &Parameter{Name: "/App/db/URL", Versions: []int64{3, 4, 5},
			Latest: Version{Version: 5, Type: "SecureString", Value: "env:é\x00\"{}", KeyID: "alias/aws/ssm", Description: "d",
				AllowedPattern: "^.*$", DataType: "text", Tier: "Advanced", Policies: `[{"Type":"Expiration"}]`, Modified: -7, User: "arn:aws:iam::1:user/u"},
			Labels: map[string]int64{"prod": 5, "old": 3}, Tags: map[string]string{"team": "a", "": ""},
			ModIndex: 99, Fired: []string{"p1", "p2"}}}
}

// TestCompactRoundTrip: a put in the compact form decodes to the command
// encoded, deterministically, and is read by commandOp.
func TestCompactRoundTrip(t *testing.T) {
	withIntent := fullPut()
	withIntent.Intent, withIntent.Origin = []byte(`{"eventName":"PutParameter","requestParameters":{"Value":"hmac-sha256:00"}}`), "node1"
	intentNoParam := &Command{Op: OpPut, Name: "/y", Intent: []byte(`{}`), Origin: "n"}
	for _, c := range []*Command{fullPut(), {Op: OpPut, Name: "/x", Create: true}, {Op: OpPut, Param: &Parameter{}}, withIntent, intentNoParam} {
		b, err := c.MarshalCompact()
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != compactMagic {
			t.Fatalf("%+v: not in the compact form: %q", c, b)
		}
		got, err := UnmarshalCommand(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
		}
		again, _ := got.MarshalCompact()
		if !bytes.Equal(again, b) {
			t.Fatalf("encoding is not deterministic:\n%q\n%q", b, again)
		}
		if op := commandOp(b); op != OpPut {
			t.Fatalf("commandOp = %q, want put", op)
		}
		js, _ := c.Marshal()
		if len(b) >= len(js) {
			t.Errorf("compact form %d bytes, JSON %d", len(b), len(js))
		}
	}
}

// TestCompactOnlyForPuts: any other command, and a put carrying a member
// of another command, stays JSON.
func TestCompactOnlyForPuts(t *testing.T) {
	withPolicy := fullPut()
	withPolicy.Policy = &Event{Kind: KindChange}
	for _, c := range []*Command{{Op: OpDelete, Name: "/a"}, {Op: OpMeta, Labels: map[string]int64{"a": 1}}, withPolicy} {
		b, err := c.MarshalCompact()
		if err != nil {
			t.Fatal(err)
		}
		js, _ := c.Marshal()
		if !bytes.Equal(b, js) {
			t.Fatalf("%s: got %q, want the JSON %q", c.Op, b, js)
		}
	}
}

// TestCompactCoversCommand: every member of Command the compact form does
// not carry makes a put fall back to JSON, and the records it carries have
// the members it knows: a member added later must be given a place in the
// codec (or in compactable) before this passes.
func TestCompactCoversCommand(t *testing.T) {
	carried := map[string]bool{"Op": true, "ID": true, "Tenancy": true, "Name": true, "Create": true, "Expect": true,
		"Param": true, "Prune": true, "Quota": true, "Time": true, "Intent": true, "Origin": true}
	ct := reflect.TypeFor[Command]()
	for i := range ct.NumField() {
		f := ct.Field(i)
		if carried[f.Name] {
			continue
		}
		c := &Command{Op: OpPut}
		v := reflect.ValueOf(c).Elem().Field(i)
		switch f.Type.Kind() {
		case reflect.Pointer:
			v.Set(reflect.New(f.Type.Elem()))
		case reflect.Map:
			v.Set(reflect.MakeMap(f.Type))
		case reflect.Slice:
			v.Set(reflect.MakeSlice(f.Type, 1, 1))
		case reflect.String:
			v.SetString("x")
		default:
			t.Fatalf("member %s (%s): teach this test and the codec about it", f.Name, f.Type)
		}
		if compactable(c) {
			t.Errorf("a put with %s set would lose it in the compact form", f.Name)
		}
	}
	if n := reflect.TypeFor[Parameter]().NumField(); n != 7 {
		t.Errorf("Parameter has %d members, the compact form knows 7", n)
	}
	if n := reflect.TypeFor[Version]().NumField(); n != 11 {
		t.Errorf("Version has %d members, the compact form knows 11", n)
	}
}

// TestCompactLogAppliesLikeJSON: the same writes applied from a log in
// JSON (as written before the compact form existed, and still for other
// commands) and from one in the compact form, and from a log that mixes
// them (an upgrade mid-log), give the same state.
func TestCompactLogAppliesLikeJSON(t *testing.T) {
	states := map[string]string{}
	for _, mode := range []string{"json", "compact", "mixed"} {
		d, err := Open(filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		var entries []Entry
		modIndex := uint64(0)
		for i := range int64(6) {
			c := &Command{Op: OpPut, ID: NewCommandID(testNowTime.Add(1)), Tenancy: testTenancy, Name: "/p", Create: i == 0, Expect: modIndex,
				Param: &Parameter{Name: "/P", Versions: []int64{i + 1}, Tags: map[string]string{"t": "v"},
					Latest: Version{Version: i + 1, Type: "String", Value: "value", Tier: "Standard", Modified: 1000 + i}}}
			var b []byte
			if mode == "compact" || mode == "mixed" && i >= 3 {
				b, err = c.MarshalCompact()
			} else {
				b, err = json.Marshal(c)
			}
			if err != nil {
				t.Fatal(err)
			}
			modIndex = uint64(len(entries) + 1)
			entries = append(entries, Entry{Index: modIndex, Term: 1, Data: b})
		}
		for i, err := range d.ApplyBatch(entries) {
			if err != nil {
				t.Fatalf("%s: entry %d: %v", mode, i, err)
			}
		}
		var state bytes.Buffer
		err = d.View(context.Background(), func(r *Reader) error {
			p, err := r.Param(testTenancy, "/p")
			if err != nil {
				return err
			}
			json.NewEncoder(&state).Encode(p)
			return r.Versions(testTenancy, "/p", 0, func(v *Version) (bool, error) {
				return true, json.NewEncoder(&state).Encode(v)
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		states[mode] = state.String()
	}
	if states["json"] != states["compact"] || states["json"] != states["mixed"] {
		t.Fatalf("the state differs by encoding:\njson    %s\ncompact %s\nmixed   %s", states["json"], states["compact"], states["mixed"])
	}
}

// TestCompactRejectsDamage: every truncation of a compact encoding, and
// trailing bytes, fail to decode (with an error, not a panic).
func TestCompactRejectsDamage(t *testing.T) {
	b, _ := fullPut().MarshalCompact()
	for n := 1; n < len(b); n++ {
		if _, err := UnmarshalCommand(b[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: decoded", n, len(b))
		}
	}
	if _, err := UnmarshalCommand(append(b, 0)); err == nil {
		t.Fatal("a trailing byte: decoded")
	}
}

// FuzzUnmarshalCommand: any log entry decodes or fails without a panic;
// a compact one that decodes encodes back to a form that decodes the same.
func FuzzUnmarshalCommand(f *testing.F) {
	withIntent := fullPut()
	withIntent.Intent, withIntent.Origin = []byte(`{"eventName":"PutParameter"}`), "node1"
	for _, c := range []*Command{fullPut(), {Op: OpPut, Param: &Parameter{}}, {Op: OpPut}, withIntent} {
		b, _ := c.MarshalCompact()
		f.Add(b)
		js, _ := c.Marshal()
		f.Add(js)
	}
	f.Add([]byte{compactMagic})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := UnmarshalCommand(b)
		_ = commandOp(b)
		if err != nil || len(b) == 0 || b[0] != compactMagic {
			return
		}
		if commandOp(b) != c.Op {
			t.Fatalf("commandOp %q, decoded op %q", commandOp(b), c.Op)
		}
		again, err := c.MarshalCompact()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := UnmarshalCommand(again)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("re-encoding decodes differently:\n%+v\n%+v", c, c2)
		}
	})
}

// TestIntentJSONRoundTrip: the JSON form (a cluster's log, commands other
// than puts) carries a command's intent and origin too.
func TestIntentJSONRoundTrip(t *testing.T) {
	c := &Command{Op: OpDelete, Name: "/x", Intent: []byte(`{"eventName":"DeleteParameter"}`), Origin: "node2"}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
	}
}

// TestCompactIntentTruncated: a compact put whose intent is cut short is
// an error, not a shorter intent.
func TestCompactIntentTruncated(t *testing.T) {
	c := fullPut()
	c.Intent, c.Origin = []byte(`{"eventName":"PutParameter"}`), "node1"
	b, err := c.MarshalCompact()
	if err != nil {
		t.Fatal(err)
	}
	for cut := 1; cut < 10; cut++ {
		if _, err := UnmarshalCommand(b[:len(b)-cut]); err == nil {
			t.Fatalf("cut by %d bytes: decoded", cut)
		}
	}
}
