package sigv4

import (
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSpecVector checks the worked example of spec §4.6, cross-checked
// against botocore.
func TestSpecVector(t *testing.T) {
	const (
		wantCanonical = "POST\n/\n\n" +
			"content-type:application/x-amz-json-1.1\n" +
			"host:127.0.0.1:4566\n" +
			"x-amz-date:20240115T120000Z\n" +
			"x-amz-target:AmazonSSM.GetParameter\n\n" +
			"content-type;host;x-amz-date;x-amz-target\n" +
			"867efca82ec04a0d9d03b06737484745b24209e4fc0fdb119e52b9324f865935"
		wantStringToSign = "AWS4-HMAC-SHA256\n20240115T120000Z\n20240115/us-east-1/ssm/aws4_request\n" +
			"6ccf27e1e930d32f5abd6cd235cbd1c4c7a356fafc47f117cf2f3a542ab4a327"
		wantSignature = "cc17d167d4e640e0d29f7640fc5fe339dc9894b95140c122374ab4ee5704c94b"
		signedHeaders = "content-type;host;x-amz-date;x-amz-target"
	)
	r := httptest.NewRequest(http.MethodPost, testURL, strings.NewReader(testBody))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "AmazonSSM.GetParameter")
	r.Header.Set("X-Amz-Date", "20240115T120000Z")

	uris := canonicalURIs(r)
	creq := buildCanonicalRequest(r.Method, uris[0], canonicalQuery(r.URL.RawQuery, false),
		canonicalHeaders(r, strings.Split(signedHeaders, ";")), signedHeaders, hexSHA256([]byte(testBody)))
	if creq != wantCanonical {
		t.Errorf("canonical request:\n got %q\nwant %q", creq, wantCanonical)
	}
	sts := stringToSign(signTime, "20240115/us-east-1/ssm/aws4_request", creq)
	if sts != wantStringToSign {
		t.Errorf("string to sign:\n got %q\nwant %q", sts, wantStringToSign)
	}
	sig := hex.EncodeToString(hmacSHA256(deriveKey(testSecret, "20240115", "us-east-1", "ssm"), []byte(sts)))
	if sig != wantSignature {
		t.Errorf("signature: got %s, want %s", sig, wantSignature)
	}

	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240115/us-east-1/ssm/aws4_request, "+
		"SignedHeaders="+signedHeaders+", Signature="+wantSignature)
	res, err := newTestVerifier(t, signTime).Verify(r, []byte(testBody))
	if err != nil {
		t.Fatalf("Verify: got error %v, want success", err)
	}
	if res.AccessKeyID != testAK || res.Region != "us-east-1" || res.Service != "ssm" || !res.SignedAt.Equal(signTime) {
		t.Errorf("Verify: got %+v, want AKIDEXAMPLE in us-east-1/ssm at %v", *res, signTime)
	}
}

func TestCanonicalURI(t *testing.T) {
	tests := []struct {
		target string
		want   []string
	}{
		{"/", []string{"/"}},
		{"/some/prefix", []string{"/some/prefix"}},
		{"/a%20b/c~d", []string{"/a%2520b/c~d"}},
		{"/a~b%24c/", []string{"/a~b%2524c/"}},
		{"/a:b$c", []string{"/a%3Ab%24c"}},
		{"/a//b/./c/../d/", []string{"/a//b/./c/../d/", "/a/b/d/"}},
		{"/..", []string{"/..", "/"}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tt.target, nil)
			got := canonicalURIs(r)
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("canonicalURIs(%q): got %q, want %q", tt.target, got, tt.want)
			}
		})
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		presigned bool
		want      string
	}{
		{"empty", "", false, ""},
		{"sorted by name then value", "b=2&a=x%20y&a=1", false, "a=1&a=x%20y&b=2"},
		{"sorted after encoding", "c=a-b&c=a%2Fb", false, "c=a%2Fb&c=a-b"},
		{"plus is a space", "a=x+y", false, "a=x%20y"},
		{"no value", "flag&a=", false, "a=&flag="},
		{"empty pairs skipped", "&&a=1&", false, "a=1"},
		{"reserved encoded", "k=a:b/c@d", false, "k=a%3Ab%2Fc%40d"},
		{"bad escape kept literally", "k=%zz", false, "k=%25zz"},
		{"signature kept when not presigned", "X-Amz-Signature=abc", false, "X-Amz-Signature=abc"},
		{"signature dropped when presigned", "X-Amz-Signature=abc&X-Amz-Date=1", true, "X-Amz-Date=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := canonicalQuery(tt.raw, tt.presigned); got != tt.want {
				t.Errorf("canonicalQuery(%q): got %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestCanonicalHeaders(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "http://h.example:8080/", strings.NewReader("12345"))
	r.Header.Add("X-Multi", "  a   b  ")
	r.Header.Add("X-Multi", "c")
	r.Header["x-lower"] = []string{"raw key"}
	r.TransferEncoding = []string{"chunked"}
	got := canonicalHeaders(r, []string{"content-length", "host", "transfer-encoding", "x-lower", "x-missing", "X-Multi"})
	want := "content-length:5\nhost:h.example:8080\ntransfer-encoding:chunked\nx-lower:raw key\nx-missing:\nx-multi:a b,c\n"
	if got != want {
		t.Errorf("canonicalHeaders:\n got %q\nwant %q", got, want)
	}
}

func TestParseAuthorization(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   authorization
		err    string
	}{
		{
			name:   "sdk form",
			header: "AWS4-HMAC-SHA256 Credential=AK/20240115/us-east-1/ssm/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab12",
			want:   authorization{"AK/20240115/us-east-1/ssm/aws4_request", "host;x-amz-date", "ab12"},
		},
		{
			name:   "no spaces, other order",
			header: "AWS4-HMAC-SHA256 Signature=ab12,SignedHeaders=host,Credential=AK/d/r/s/t",
			want:   authorization{"AK/d/r/s/t", "host", "ab12"},
		},
		{
			name:   "extra spaces and unknown parts",
			header: "AWS4-HMAC-SHA256   Credential=AK/d/r/s/t ,  Foo=bar, junk ,SignedHeaders= host , Signature=ab",
			want:   authorization{"AK/d/r/s/t", "host", "ab"},
		},
		{
			name:   "first of a repeated part wins",
			header: "AWS4-HMAC-SHA256 Signature=first, Signature=second",
			want:   authorization{Signature: "first"},
		},
		{
			name:   "wrong algorithm",
			header: "AWS4-HMAC-SHA1 Credential=AK/d/r/s/t",
			err:    "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAuthorization(tt.header)
			if tt.err != "" {
				if err == nil || err.Message != tt.err || err.Code != CodeIncompleteSignature {
					t.Fatalf("parseAuthorization: got %+v, %v; want error %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseAuthorization: got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestTrimAll(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a", "a"},
		{"  a  ", "a"},
		{"a   b    c", "a b c"},
		{"\ta  b\t", "a b"},
	}
	for _, tt := range tests {
		if got := trimAll(tt.in); got != tt.want {
			t.Errorf("trimAll(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
