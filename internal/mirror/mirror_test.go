package mirror

import "testing"

func TestMapKey(t *testing.T) {
	m, err := New(Config{Source: nilAPI{}, Target: nilAPI{}, Path: "/a", KeyMap: map[string]string{
		"alias/src": "alias/dst", "1234abcd-12ab-34cd-56ef-1234567890ab": "alias/other"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ src, want string }{
		{"alias/src", "alias/dst"},
		{"arn:aws:kms:us-east-1:123456789012:alias/src", "alias/dst"},
		{"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "alias/other"},
		{"alias/aws/ssm", ""},
		{"", ""},
	} {
		if got := m.MapKey(tc.src); got != tc.want {
			t.Errorf("MapKey(%q) = %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{Target: nilAPI{}, Path: "/a"},
		{Source: nilAPI{}, Target: nilAPI{}, Path: "a"},
		{Source: nilAPI{}, Target: nilAPI{}, Path: "/a", SourceRate: -1},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v): no error", c)
		}
	}
}

// nilAPI is an API no test calls.
type nilAPI struct{ API }
