package testproc

import "testing"

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    Credentials
		wantErr bool
	}{
		{"root-credentials", "[default]\naws_access_key_id = AKID\naws_secret_access_key = s3cret\n", Credentials{"AKID", "s3cret"}, false},
		{"no spaces", "[default]\naws_access_key_id=AKID\naws_secret_access_key=s3cret", Credentials{"AKID", "s3cret"}, false},
		{"default among profiles", "[other]\naws_access_key_id = X\naws_secret_access_key = Y\n[ default ]\naws_access_key_id = AKID\naws_secret_access_key = s3cret\n", Credentials{"AKID", "s3cret"}, false},
		{"other profile only", "[other]\naws_access_key_id = X\naws_secret_access_key = Y\n", Credentials{}, true},
		{"no secret", "[default]\naws_access_key_id = AKID\n", Credentials{}, true},
		{"empty", "", Credentials{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCredentials([]byte(tc.raw))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
