package store

import (
	"encoding/json"
	"testing"
)

// FuzzRecordJSON: the hand-written encoders of the head, version and
// change records write what encoding/json writes, byte for byte.
func FuzzRecordJSON(f *testing.F) {
	f.Add("/a/b", "String", "value", "", "", "", "text", "Standard", "", "arn:aws:iam::1:user/u", "prod", "team", "a", int64(3), int64(1_700_000_000_000), uint64(42), 2)
	f.Add("/x<y>&", "SecureString", "\x00\u2028\xff\"\\", "alias/k", "d\n", "^.*$", "aws:ec2:image", "Advanced", `[{"Type":"Expiration"}]`, "", "", "", "", int64(-1), int64(0), uint64(0), 0)
	f.Fuzz(func(t *testing.T, name, typ, val, key, desc, pattern, dataType, tier, policies, user, label, tagKey, tagVal string, version, modified int64, modIndex uint64, n int) {
		p := Parameter{Name: name, ModIndex: modIndex,
			Latest: Version{Version: version, Type: typ, Value: val, KeyID: key, Description: desc, AllowedPattern: pattern,
				DataType: dataType, Tier: tier, Policies: policies, Modified: modified, User: user}}
		switch n % 4 {
		case 1:
			p.Versions = []int64{}
		case 2, 3:
			p.Versions = []int64{version - 1, version}
			p.Labels = map[string]int64{label: version, label + "2": -version}
			p.Tags = map[string]string{tagKey: tagVal, "k": val}
			p.Fired = []string{label, tagVal}
		}
		if n%4 == 3 {
			p.Labels, p.Tags = map[string]int64{}, map[string]string{}
		}
		want, err := json.Marshal(&p)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendParamJSON(nil, &p); string(got) != string(want) {
			t.Fatalf("head record:\n got %s\nwant %s", got, want)
		}
		want, _ = json.Marshal(&p.Latest)
		if got := appendVersionJSON(nil, &p.Latest); string(got) != string(want) {
			t.Fatalf("version record:\n got %s\nwant %s", got, want)
		}
		ch := Change{Index: modIndex, Tenancy: tagKey, Name: name, Key: label, Version: version, Deleted: n%2 == 1}
		want, _ = json.Marshal(&ch)
		if got := appendChangeJSON(nil, &ch); string(got) != string(want) {
			t.Fatalf("change record:\n got %s\nwant %s", got, want)
		}
	})
}
