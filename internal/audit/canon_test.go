package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// referenceRedacted is what a record held before appendCanonical: the
// text decoded into maps, redacted by Redact's walk, encoded again.
func referenceRedacted(t testing.TB, raw []byte) []byte {
	t.Helper()
	out, err := redact(testKey, json.RawMessage(raw), nil)
	if err != nil {
		t.Fatalf("redact(%q): %v", raw, err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkCanonical fails unless appendCanonical accepts raw (valid JSON)
// and writes exactly the reference's bytes, after any prefix.
func checkCanonical(t testing.TB, raw []byte) []byte {
	t.Helper()
	prefix := []byte(`{"requestParameters":`)
	got, ok := appendCanonical(bytes.Clone(prefix), testKey, raw)
	if !ok {
		t.Fatalf("appendCanonical refused valid JSON %q", raw)
	}
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("appendCanonical(%q) changed what was before it: %s", raw, got)
	}
	got = got[len(prefix):]
	if want := referenceRedacted(t, raw); !bytes.Equal(got, want) {
		t.Fatalf("appendCanonical(%q):\n got %s\nwant %s", raw, got, want)
	}
	return got
}

func TestCanonicalMatchesRedact(t *testing.T) {
	for _, raw := range []string{
		`{}`, `[]`, `null`, `true`, `"s"`, `-0.5e+10`, `0`, `[1,"a",null,{}]`,
		`{"Name":"/a","Value":"s3cret","Type":"SecureString","Overwrite":true}`,
		`  {"Value" : "s3cret" ,  "Name":"/a"}  `,
		`{"value":"s3cret","VALUE":"other","vAlUe":null}`,
		`{"Name":"/a","Name":"/b"}`,
		`{"b":1,"a":2,"b":3,"a":{"z":1,"y":[1,2,{"Value":"x"}]}}`,
		`{"Value":123.50}`, `{"Value":true}`, `{"Value":[1,"a",{"b":"<&>","a":1}]}`, `{"Value":{"Value":"inner","a":1}}`,
		`{"Value":""}`, `{"\u0056alue":"escaped-name"}`, `{"Val\u0075e":"x","a\"b":1}`,
		`{"Name":"<script>&amp;</script>","Value":"<>&"}`,
		`{"Name":"caf\u00e9 \u2028 \u2029 ✓ 日本","Value":"ünïcødé \ud83d\ude00"}`,
		`{"Name":"\ud800 lone surrogate","Value":"\udfff"}`,
		"{\"Name\":\"bad utf8 \xff\xfe\",\"Value\":\"\xc3\x28\"}",
		"{\"Name\":\"del \x7f\",\"Description\":\"tab\\tnl\\n\\\"q\\\" \\/ \\b\\f\"}",
		`{"Tags":[{"Key":"k","Value":"tag-value"},{"Key":"k2","Value":{"Value":"nested"}}],"Value":"s3cret"}`,
		`{"TagList":[{"Value":"t"},[{"Value":"in-array"}],"x",null],"Tags":"not-an-array"}`,
		`{"tags":[{"Value":"lowercase-tags-are-not-tag-arrays"}]}`,
		`{"Tags":{"Value":"object-not-array"}}`,
		`{"Parameter":{"Name":"/a","Value":"v","Version":1,"LastModifiedDate":1.7645e9}}`,
		`{"Parameters":[{"Value":"a"},{"Value":"b"}],"InvalidParameters":[]}`,
		`{"Version":3,"Tier":"Standard"}`,
		`{"a":1e400,"b":-0,"c":0.000001,"d":1E-7}`,
		`[[[[{"Value":"deep"}]]]]`,
		`{"":1,"Z":2,"a":3,"_":4,"~":5,"é":6}`,
	} {
		t.Run("", func(t *testing.T) { checkCanonical(t, []byte(raw)) })
	}
}

// TestCanonicalManyOperations compares the two encoders over many
// generated requests and responses of the operations that carry values,
// SecureString values among them, and checks that no value appears.
func TestCanonicalManyOperations(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 1))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	text := func() string {
		return pick("/app/prod/db", "/a b/c", "x<y>&z", "ünï", "q\"uote", `back\slash`, "line\nbreak", "", "\u2028") + fmt.Sprint(r.IntN(1000))
	}
	for i := range 2000 {
		secret := fmt.Sprintf("s3cret-%d-%s", i, pick("plain", "ünï", "<&>", `"q"`, "\t"))
		m := map[string]any{}
		switch i % 5 {
		case 0: // PutParameter
			m["Name"], m["Value"], m["Type"] = text(), secret, pick("String", "SecureString", "StringList")
			if r.IntN(2) == 0 {
				m["Overwrite"] = r.IntN(2) == 0
			}
			if r.IntN(3) == 0 {
				m["Tags"] = []map[string]string{{"Key": text(), "Value": text()}}
			}
			if r.IntN(3) == 0 {
				m["Description"], m["Tier"], m["KeyId"] = text(), "Standard", "alias/k"
			}
		case 1: // GetParameter's response
			m["Parameter"] = map[string]any{"Name": text(), "Value": secret, "Version": r.IntN(100), "ARN": text(), "Type": "SecureString"}
		case 2: // GetParameters' response
			m["Parameters"] = []any{map[string]any{"Name": text(), "Value": secret}, map[string]any{"value": secret}}
			m["InvalidParameters"] = []string{text()}
		case 3: // a body with names in other cases and repeated
			m["name"], m["VALUE"] = text(), secret
		case 4: // PutParameter's response
			m["Version"], m["Tier"] = r.IntN(1e6), pick("Standard", "Advanced")
		}
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			raw = bytes.ReplaceAll(raw, []byte(`,"`), []byte(" ,\n\t\""))
		}
		got := checkCanonical(t, raw)
		q, _ := json.Marshal(secret)
		if bytes.Contains(got, q[1:len(q)-1]) {
			t.Fatalf("secret %s in the record: %s", q, got)
		}
		if i%5 != 4 && !bytes.Contains(got, []byte(HMAC(testKey, secret))) {
			t.Fatalf("no HMAC of the secret %s in %s", q, got)
		}
	}
}

// TestCanonicalRefusesInvalid: text that is not valid JSON is left to the
// general path (which reports it), never written.
func TestCanonicalRefusesInvalid(t *testing.T) {
	for _, raw := range []string{
		``, ` `, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `tru`, `nul`, `01`, `1.`, `-`, `1e`, `.5`,
		`"\x"`, `"unterminated`, "\"ctl\x01\"", `{"a":1}x`, `{"a":1,"a":tru}`, `{"Value":nulll}`, `[}`, `{"a":[1}]}`,
		`{"Value":"\u12"}`, strings.Repeat("[", maxCanonDepth+1) + strings.Repeat("]", maxCanonDepth+1),
	} {
		if got, ok := appendCanonical(nil, testKey, []byte(raw)); ok {
			t.Errorf("appendCanonical(%q) accepted it: %s", raw, got)
		}
		if json.Valid([]byte(raw)) {
			t.Errorf("test case %q is valid JSON", raw)
		}
	}
}

// TestEncodeBodyWriteRecord: a write's whole record (its request, a
// SecureString, and its response given as a struct or as Marshaled text)
// is byte for byte the reference encoder's, through the hash chain.
func TestEncodeBodyWriteRecord(t *testing.T) {
	rec := putRecord()
	rec.EventTime = time.Date(2026, 11, 30, 19, 0, 0, 0, time.UTC)
	want := referenceBody(t, &rec)
	got, err := encodeBody(testKey, &rec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encodeBody:\n got %s\nwant %s", got, want)
	}
	out, _ := json.Marshal(rec.ResponseElements)
	rec.ResponseElements = Marshaled(out)
	if got, err = encodeBody(testKey, &rec); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("encodeBody with Marshaled response (%v):\n got %s\nwant %s", err, got, want)
	}
	if bytes.Contains(got, []byte("0123456789abcdef")) {
		t.Fatalf("the SecureString value is in the record: %s", got)
	}
}

// FuzzCanonical: for any bytes, appendCanonical accepts exactly the valid
// JSON texts, and writes what Redact's walk writes.
func FuzzCanonical(f *testing.F) {
	for _, seed := range []string{
		`{"Name":"/a","Value":"s3cret-value","Type":"SecureString","Overwrite":true}`,
		`{"name":"/a","value":"s3cret","Name":"/b","Tags":[{"Key":"k","Value":"v"}]}`,
		`{"\u0056alue":{"b":[1,2.5e3,null],"a":"<&>"},"TagList":[[{"Value":"x"}]]}`,
		`{"Parameters":[{"Value":"a","Name":"\u00e9"}],"InvalidParameters":[]}`,
		"[\"\xff\",{\"Value\":-0}]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := appendCanonical(nil, testKey, raw)
		if !json.Valid(raw) {
			if ok {
				t.Fatalf("appendCanonical accepted invalid JSON %q: %s", raw, got)
			}
			return
		}
		checkCanonical(t, raw)
	})
}

// TestMemo: a call's records share its redacted request through a Memo,
// and the members before it when they are the same: each record is what
// it would be without one, whether its head matches the memo's or not
// (another time, agent, identity); a record with an error message redacts
// its own request (its hidden values are checked against the message)
// and leaves the memo as it was.
func TestMemo(t *testing.T) {
	var memo Memo
	at := time.Date(2026, 12, 1, 3, 4, 5, 6e6, time.UTC)
	rec := func(edit func(*Record)) Record {
		r := putRecord()
		r.EventTime, r.Memo = at, &memo
		if edit != nil {
			edit(&r)
		}
		return r
	}
	intent := rec(func(r *Record) { r.EventType = EventTypeIntent })
	failed := rec(func(r *Record) {
		r.ErrorCode, r.ErrorMessage = "ValidationException", "bad value 0123456789abcdef0123456789abcdef"
	})
	result := rec(nil)
	later := rec(func(r *Record) { r.EventTime = at.Add(time.Millisecond) })
	agent := rec(func(r *Record) { r.UserAgent = "another-agent/2.0" })
	user := rec(func(r *Record) { r.UserIdentity.UserName, r.UserIdentity.Type = "alice", IdentityIAMUser })
	for i, r := range []Record{failed, intent, result, later, agent, user, failed, result} {
		got, err := encodeBody(testKey, &r)
		if err != nil {
			t.Fatal(err)
		}
		plain := r
		plain.Memo = nil
		want, err := encodeBody(testKey, &plain)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("record %d with a memo:\n%s\nwithout:\n%s", i, got, want)
		}
		if bytes.Contains(got, []byte("0123456789abcdef")) {
			t.Fatalf("the value is in the record: %s", got)
		}
	}
	wantRequest := []byte(`{"Name":"/bench/w","Overwrite":true,"Type":"SecureString","Value":"hmac-sha256:`)
	if !memo.done || !bytes.HasPrefix(memo.head[memo.request:], wantRequest) {
		t.Fatalf("memo = %q (done %v), want the redacted request", memo.head[memo.request:], memo.done)
	}
	if want := `{"eventVersion":"1.08","eventTime":"2026-12-01T03:04:05.006Z",`; !bytes.HasPrefix(memo.head, []byte(want)) {
		t.Fatalf("memo head = %q, want the intent's, from %s", memo.head, want)
	}
}
