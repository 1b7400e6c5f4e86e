package ssm

import "testing"

func TestParseName(t *testing.T) {
	tn := Tenancy{Account: "123456789012", Region: "us-east-1"}
	arn := "arn:aws:ssm:us-east-1:123456789012:parameter/"
	tests := []struct {
		raw                  string
		put                  bool
		spelling, key, arnOf string
		wantCode             string
	}{
		{raw: "/a/b", spelling: "/a/b", key: "/a/b", arnOf: arn + "a/b"},
		{raw: " /a/b\t", spelling: "/a/b", key: "/a/b", arnOf: arn + "a/b"},
		{raw: "/root", spelling: "/root", key: "root", arnOf: arn + "root"},
		{raw: "root", spelling: "root", key: "root", arnOf: arn + "root"},
		{raw: "/aws/service/x", spelling: "/aws/service/x", key: "/aws/service/x", arnOf: arn + "aws/service/x"},
		{raw: "/aws/service/x", put: true, wantCode: CodeAccessDenied},
		{raw: "  /p ", put: true, spelling: "/p", key: "p", arnOf: arn + "p"},
		{raw: "/a//b", wantCode: CodeValidation},
		{raw: "/a/b:1", wantCode: CodeValidation},
		{raw: "", wantCode: CodeValidation},
		{raw: "  ", put: true, wantCode: CodeValidation},
	}
	for _, tt := range tests {
		op := map[bool]string{false: "ParseName", true: "ParsePutName"}[tt.put]
		t.Run(op+" "+tt.raw, func(t *testing.T) {
			var n Name
			var err *Error
			if tt.put {
				n, err = ParsePutName(tn, tt.raw)
			} else {
				n, err = ParseName(tt.raw)
			}
			if tt.wantCode != "" {
				if err == nil || err.Code != tt.wantCode || n != (Name{}) {
					t.Fatalf("got %+v, %v, want the zero Name and %s", n, err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want success", err)
			}
			if got := [3]string{n.String(), n.Key(), n.ARN(tn)}; got != [3]string{tt.spelling, tt.key, tt.arnOf} {
				t.Errorf("got spelling, key, ARN %q, want %q", got, [3]string{tt.spelling, tt.key, tt.arnOf})
			}
		})
	}
}

// TestParseNameAllocs: parsing a valid name that needs no trimming copies
// nothing (upspin's path_test checks the same of path.Parse).
func TestParseNameAllocs(t *testing.T) {
	for _, raw := range []string{"/a/b/c", "/root", "root"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = ParseName(raw) }); n != 0 {
			t.Errorf("ParseName(%q) allocates %v times, want 0", raw, n)
		}
	}
}
