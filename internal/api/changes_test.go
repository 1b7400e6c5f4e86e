package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/server"
	"github.com/paramstore/paramstore/internal/servertest"
)

type changesPage struct {
	Index   uint64
	Changes []struct {
		Name    string
		Version int64
		Deleted bool
		Index   uint64
	}
	Reset bool
}

// getChanges calls the change stream, signed with creds when id is set.
func getChanges(t *testing.T, endpoint, query, id, secret string) (int, changesPage, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, endpoint+"/_paramstore/changes?"+query, nil)
	if id != "" {
		sum := sha256.Sum256(nil)
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: id, SecretAccessKey: secret},
			req, hex.EncodeToString(sum[:]), "ssm", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
	} else {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=00")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var page changesPage
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &page); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
	}
	return resp.StatusCode, page, string(raw)
}

func TestChangeStream(t *testing.T) {
	_, ep := servertest.Start(t)
	c := servertest.Client(t, ep, "us-east-1")
	ctx := context.Background()
	put := func(name, value string) {
		t.Helper()
		if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value),
			Type: types.ParameterTypeString, Overwrite: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
	}
	status, start, raw := getChanges(t, ep, "path=/app", "", "")
	if status != 200 || len(start.Changes) != 0 || start.Index == 0 {
		t.Fatalf("since 0: got %d %s, want the current index and no changes", status, raw)
	}
	put("/app/a", "1")
	put("/other/x", "1")
	put("/app/sub/b", "1")
	put("/app/a", "2")
	_, page, raw := getChanges(t, ep, fmt.Sprintf("path=/app&since=%d&wait=0", start.Index), "", "")
	var got []string
	for _, ch := range page.Changes {
		got = append(got, fmt.Sprintf("%s@%d", ch.Name, ch.Version))
	}
	if want := "/app/a@1 /app/sub/b@1 /app/a@2"; strings.Join(got, " ") != want {
		t.Fatalf("changes under /app: got %v (%s), want %s", got, raw, want)
	}
	_, page, _ = getChanges(t, ep, fmt.Sprintf("path=/app&recursive=false&since=%d&wait=0", start.Index), "", "")
	if len(page.Changes) != 2 {
		t.Errorf("one level: got %+v, want the two changes of /app/a", page.Changes)
	}

	// A long poll wakes up on a change; nothing else can make it return
	// this change before its 20 s wait ends.
	after := page.Index
	done := make(chan changesPage, 1)
	go func() {
		_, p, _ := getChanges(t, ep, fmt.Sprintf("path=/app&since=%d&wait=20", after), "", "")
		done <- p
	}()
	time.Sleep(100 * time.Millisecond) // let the poll start waiting; the result does not depend on it
	if _, err := c.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/app/sub/b")}); err != nil {
		t.Fatal(err)
	}
	p := <-done
	if len(p.Changes) != 1 || p.Changes[0].Name != "/app/sub/b" || !p.Changes[0].Deleted {
		t.Fatalf("long poll: got %+v, want the delete of /app/sub/b", p)
	}
	if _, err := c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/app/a"), Labels: []string{"prod"}}); err != nil {
		t.Fatal(err)
	}
	_, page, _ = getChanges(t, ep, fmt.Sprintf("path=/app&since=%d&wait=0", p.Index), "", "")
	if len(page.Changes) != 1 || page.Changes[0].Name != "/app/a" {
		t.Errorf("label change: got %+v, want /app/a", page.Changes)
	}
	for _, q := range []string{"path=nope", "since=x", "wait=-1", "recursive=maybe"} {
		if status, _, raw := getChanges(t, ep, q, "", ""); status != 400 || !strings.Contains(raw, "ValidationException") {
			t.Errorf("%s: got %d %s, want 400 ValidationException", q, status, raw)
		}
	}
	// Other regions' changes are not shown.
	c2 := servertest.Client(t, ep, "eu-west-1")
	if _, err := c2.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/eu"), Value: aws.String("1"), Type: types.ParameterTypeString}); err != nil {
		t.Fatal(err)
	}
	_, page2, _ := getChanges(t, ep, fmt.Sprintf("path=/app&since=%d&wait=0", page.Index), "", "")
	if len(page2.Changes) != 0 {
		t.Errorf("us-east-1 stream shows %+v from eu-west-1", page2.Changes)
	}
}

func TestChangeStreamAuth(t *testing.T) {
	dir := t.TempDir()
	_, ep := servertest.Start(t, servertest.WithAuth, func(c *server.Config) { c.DataDir = dir })
	id, secret := servertest.RootCredentials(t, dir)
	if status, _, raw := getChanges(t, ep, "path=/app", "", ""); status != 400 || !strings.Contains(raw, "IncompleteSignatureException") {
		t.Errorf("fake signature: got %d %s, want IncompleteSignatureException (no date)", status, raw)
	}
	req, _ := http.NewRequest(http.MethodGet, ep+"/_paramstore/changes?path=/app", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(raw), "MissingAuthenticationTokenException") {
		t.Errorf("unsigned: got %d %s, want MissingAuthenticationTokenException", resp.StatusCode, raw)
	}
	if status, page, raw := getChanges(t, ep, "path=/app", id, secret); status != 200 || page.Index == 0 {
		t.Errorf("root: got %d %s, want 200", status, raw)
	}
}
