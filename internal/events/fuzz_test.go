package events

import (
	"testing"
	"time"
)

func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"http://x/", "https://h:1/p?q", "ftp://x", "http://u:p@x/", "http://[::1", "", "http:///x", "http://x/#f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if CheckURL(raw) == "" {
			if _, err := NewHTTPClient(nil, time.Second); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzParsePolicies(f *testing.F) {
	f.Add(`[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2030-01-01T00:00:00Z"}}]`)
	f.Add(`[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"3","Unit":"Days"}}]`)
	f.Add(`[{"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":2,"Unit":"hours"}}]`)
	f.Fuzz(func(t *testing.T, text string) {
		for _, p := range ParsePolicies(text) {
			if p.Offset < 0 || (p.Type == "Expiration") == p.At.IsZero() && p.Type == "Expiration" {
				t.Fatalf("policy %+v from %q", p, text)
			}
		}
	})
}
