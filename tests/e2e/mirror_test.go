package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/testproc"
)

// startMoto runs moto_server, the stand-in for AWS SSM, on a free port.
func startMoto(t *testing.T) string { return testproc.StartMoto(t) }

// throttler is a proxy in front of the source that counts requests and
// answers the next `throttle` of them with ThrottlingException; while
// down, it drops every connection without an answer (the source gone).
type throttler struct {
	*httptest.Server
	mu        sync.Mutex
	requests  int
	throttled int
	throttle  int
	down      bool
}

func (th *throttler) setDown(down bool) {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.down = down
}

func newThrottler(t *testing.T, target string) *throttler {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	th := &throttler{}
	th.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		th.mu.Lock()
		if th.down {
			th.mu.Unlock()
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		th.requests++
		thr := th.throttle > 0
		if thr {
			th.throttle--
			th.throttled++
		}
		th.mu.Unlock()
		if thr {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(th.Close)
	return th
}

func (th *throttler) counts() (requests, throttled int) {
	th.mu.Lock()
	defer th.mu.Unlock()
	return th.requests, th.throttled
}

// snapshot is every mirrored attribute of the parameters under path.
func snapshot(t *testing.T, c *ssm.Client, path string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	pg := ssm.NewGetParametersByPathPaginator(c, &ssm.GetParametersByPathInput{Path: aws.String(path), Recursive: aws.Bool(true), WithDecryption: aws.Bool(true)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Parameters {
			n := aws.ToString(p.Name)
			d, err := c.DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Name"), Values: []string{n}}}})
			if err != nil || len(d.Parameters) != 1 {
				t.Fatalf("describe %s: %v", n, err)
			}
			tags, err := c.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: aws.String(n)})
			if err != nil {
				t.Fatal(err)
			}
			var ts []string
			for _, tg := range tags.TagList {
				ts = append(ts, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
			}
			sort.Strings(ts)
			h, err := c.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String(n)})
			if err != nil {
				t.Fatal(err)
			}
			var labels []string
			for _, v := range h.Parameters {
				if v.Version == p.Version {
					labels = append(labels, v.Labels...)
				}
			}
			sort.Strings(labels)
			out[n] = fmt.Sprintf("type=%s value=%q desc=%q pattern=%q tags=%v labels=%v", p.Type, aws.ToString(p.Value),
				aws.ToString(d.Parameters[0].Description), aws.ToString(d.Parameters[0].AllowedPattern), ts, labels)
		}
	}
	return out
}

func diffSnapshots(a, b map[string]string) []string {
	var d []string
	for n, v := range a {
		if b[n] != v {
			d = append(d, fmt.Sprintf("%s: source %s, target %s", n, v, b[n]))
		}
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			d = append(d, n+": only at the target")
		}
	}
	sort.Strings(d)
	return d
}

// TestMirrorFromMoto mirrors /m from moto_server (AWS SSM's stand-in) into
// a Paramstore: create, update, tag, label and delete at the source; a
// second sync writes nothing; --no-delete; ThrottlingException is backed
// off; --interval follows changes.
func TestMirrorFromMoto(t *testing.T) {
	ctx := context.Background()
	moto := startMoto(t)
	th := newThrottler(t, moto)
	srv := startServer(t, t.TempDir(), "--no-audit")
	src := ssm.New(ssm.Options{Region: "us-east-1", BaseEndpoint: aws.String(moto), Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	dst := srv.SSM()
	env := srv.Credentials().Env(t)
	mirror := func(extra ...string) string {
		t.Helper()
		args := append([]string{"mirror", "--source-endpoint", th.URL, "--path", "/m", "--once", "--endpoint", srv.URL(), "--source-rate", "50"}, extra...)
		code, out := testproc.RunToExit(t, transferTimeout, env, args...)
		if code != 0 {
			t.Fatalf("mirror: exit %d:\n%s", code, out)
		}
		return out
	}
	put := func(name, typ, value, desc string, tags ...types.Tag) {
		t.Helper()
		in := &ssm.PutParameterInput{Name: aws.String(name), Type: types.ParameterType(typ), Value: aws.String(value), Tags: tags}
		if desc != "" {
			in.Description = aws.String(desc)
		}
		if len(tags) == 0 {
			in.Overwrite = aws.Bool(true)
		}
		if _, err := src.PutParameter(ctx, in); err != nil {
			t.Fatalf("moto put %s: %v", name, err)
		}
	}
	tag := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
	put("/m/app/url", "String", "https://v1", "the url", tag("team", "core"))
	put("/m/app/password", "SecureString", "MIRROR-SECRET", "")
	put("/m/hosts", "StringList", "a,b", "hosts")
	put("/m/old", "String", "to be deleted", "")
	if _, err := src.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/m/pattern"), Type: types.ParameterTypeString, Value: aws.String("123"), AllowedPattern: aws.String("^[0-9]+$")}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/m/app/url"), Labels: []string{"prod"}}); err != nil {
		t.Fatal(err)
	}
	// Drift at the target before the first sync: a parameter the source lacks.
	if _, err := dst.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/m/stray"), Type: types.ParameterTypeString, Value: aws.String("x")}); err != nil {
		t.Fatal(err)
	}

	check := func(when string) {
		t.Helper()
		if d := diffSnapshots(snapshot(t, src, "/m"), snapshot(t, dst, "/m")); len(d) > 0 {
			t.Errorf("%s: the target differs:\n%s", when, strings.Join(d, "\n"))
		}
	}
	out := mirror()
	t.Logf("MIRROR first run: %s", out)
	if !strings.Contains(out, "created=5") || !strings.Contains(out, "deleted=1") {
		t.Errorf("first run: %s", out)
	}
	check("after the first sync")

	out = mirror()
	t.Logf("MIRROR second run (no change at the source): %s", out)
	if !strings.Contains(out, "drift=0") || !strings.Contains(out, "target_writes=0") {
		t.Errorf("second run wrote: %s", out)
	}

	put("/m/app/url", "String", "https://v2", "the url")
	if _, err := src.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: aws.String("/m/hosts"), Tags: []types.Tag{tag("env", "prod")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/m/hosts"), Labels: []string{"stable"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/m/app/url"), Labels: []string{"prod"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/m/old")}); err != nil {
		t.Fatal(err)
	}
	out = mirror()
	t.Logf("MIRROR after update/tag/label/delete at the source: %s", out)
	if !strings.Contains(out, "updated=1") || !strings.Contains(out, "deleted=1") || !strings.Contains(out, "drift=3") {
		t.Errorf("third run: %s", out)
	}
	check("after update, tag, label and delete")

	// --no-delete keeps what the source deleted.
	if _, err := src.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/m/pattern")}); err != nil {
		t.Fatal(err)
	}
	out = mirror("--no-delete")
	if !strings.Contains(out, "deleted=0") {
		t.Errorf("--no-delete: %s", out)
	}
	if _, err := dst.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/m/pattern")}); err != nil {
		t.Errorf("--no-delete deleted /m/pattern: %v", err)
	}
	mirror()

	// Throttling: the source answers ThrottlingException to the next 4
	// requests; the sync backs off and succeeds with 4 more requests than
	// an unthrottled one.
	before, _ := th.counts()
	mirror()
	after, _ := th.counts()
	plain := after - before
	th.mu.Lock()
	th.throttle = 4
	th.mu.Unlock()
	out = mirror()
	final, throttled := th.counts()
	t.Logf("MIRROR THROTTLED: %d requests for an unthrottled sync, %d with %d ThrottlingException answers: %s", plain, final-after, throttled, out)
	if throttled != 4 || final-after != plain+4 {
		t.Errorf("throttled sync: %d requests (%d throttled), want %d", final-after, throttled, plain+4)
	}

	// --interval: a running mirror follows a change at the source.
	p := testproc.Start(t, testproc.Config{Name: "mirror", Env: env, Args: []string{"mirror", "--source-endpoint", th.URL, "--path", "/m",
		"--interval", "200ms", "--endpoint", srv.URL(), "--source-rate", "50"}})
	if _, err := p.WaitLine("run 1:", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	put("/m/hosts", "StringList", "a,b,c", "hosts")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		g, err := dst.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/m/hosts")})
		if err == nil && aws.ToString(g.Parameter.Value) == "a,b,c" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the running mirror did not copy the change: %v\n%s", err, p.Tail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := p.WaitLine("updated=1", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	lines := slices.DeleteFunc(strings.Split(p.Output(), "\n"), func(s string) bool { return !strings.Contains(s, "run ") })
	t.Logf("MIRROR --interval runs: %d, last: %s", len(lines), lines[len(lines)-1])
}

// TestMirrorFromParamstore mirrors /p from one Paramstore into another,
// each with its own root key (the source's from --source-credentials-file,
// the target's from --credentials-file): SecureStrings decrypted at the
// source and re-encrypted at the target; a second sync writes nothing.
func TestMirrorFromParamstore(t *testing.T) {
	ctx := context.Background()
	a := startServer(t, t.TempDir(), "--no-audit")
	b := startServer(t, t.TempDir(), "--no-audit")
	sa := a.SSM()
	for i, typ := range []types.ParameterType{types.ParameterTypeString, types.ParameterTypeSecureString, types.ParameterTypeStringList} {
		if _, err := sa.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(fmt.Sprintf("/p/n%d", i)), Type: typ, Value: aws.String(fmt.Sprintf("v%d,x", i)),
			Description: aws.String("d"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String(strconv.Itoa(i))}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sa.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/p/n1"), Labels: []string{"prod"}}); err != nil {
		t.Fatal(err)
	}
	env := testproc.Env("AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/nonexistent")
	run := func() string {
		code, out := testproc.RunToExit(t, transferTimeout, env, "mirror", "--source-endpoint", a.URL(), "--source-credentials-file", a.CredentialsFile(),
			"--source-profile", "default", "--endpoint", b.URL(), "--credentials-file", b.CredentialsFile(), "--profile", "default", "--path", "/p", "--once")
		if code != 0 {
			t.Fatalf("mirror: exit %d: %s", code, out)
		}
		return out
	}
	out := run()
	if !strings.Contains(out, "created=3") {
		t.Errorf("first sync: %s", out)
	}
	if d := diffSnapshots(snapshot(t, sa, "/p"), snapshot(t, b.SSM(), "/p")); len(d) > 0 {
		t.Errorf("the target differs:\n%s", strings.Join(d, "\n"))
	}
	if out := run(); !strings.Contains(out, "target_writes=0") {
		t.Errorf("second sync wrote: %s", out)
	}
}

// TestMirrorHistoryAndKeyMap mirrors /h from one Paramstore into another
// with --key-map alias/src=alias/dst: a SecureString encrypted under
// alias/src at the source arrives under alias/dst (DescribeParameters'
// KeyId says so) and decrypts to the same value; the labels of older
// versions arrive on the versions holding the same values (the history is
// copied first), and a label moved at the source moves at the target.
func TestMirrorHistoryAndKeyMap(t *testing.T) {
	ctx := context.Background()
	a := startServer(t, t.TempDir(), "--no-audit")
	b := startServer(t, t.TempDir(), "--no-audit")
	transferCLI(t, a, "keys", "create", "--alias", "alias/src")
	transferCLI(t, b, "keys", "create", "--alias", "alias/dst")
	sa, sb := a.SSM(), b.SSM()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, v := range []string{"s1", "s2", "s3"} {
		must(sa.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/h/secret"), Type: types.ParameterTypeSecureString, Value: aws.String("KEYMAP-" + v),
			KeyId: aws.String("alias/src"), Overwrite: aws.Bool(i > 0)}))
	}
	for i, l := range []string{"old", "prev", "cur"} {
		must(sa.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/h/secret"), ParameterVersion: aws.Int64(int64(i + 1)), Labels: []string{l}}))
	}
	must(sa.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/h/plain"), Type: types.ParameterTypeString, Value: aws.String("a")}))
	must(sa.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/h/plain"), ParameterVersion: aws.Int64(1), Labels: []string{"first"}}))
	must(sa.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/h/plain"), Type: types.ParameterTypeString, Value: aws.String("b"), Overwrite: aws.Bool(true)}))

	env := testproc.Env("AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/nonexistent")
	run := func() string {
		t.Helper()
		code, out := testproc.RunToExit(t, transferTimeout, env, "mirror", "--source-endpoint", a.URL(), "--source-credentials-file", a.CredentialsFile(),
			"--endpoint", b.URL(), "--credentials-file", b.CredentialsFile(), "--path", "/h", "--once", "--key-map", "alias/src=alias/dst")
		if code != 0 {
			t.Fatalf("mirror: exit %d: %s", code, out)
		}
		return out
	}
	get := func(sel string) string {
		t.Helper()
		g, err := sb.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(sel), WithDecryption: aws.Bool(true)})
		if err != nil {
			t.Errorf("target GetParameter %s: %v", sel, err)
			return ""
		}
		return aws.ToString(g.Parameter.Value)
	}
	out := run()
	t.Logf("MIRROR history + key map, first run: %s", out)
	d, err := sb.DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Name"), Values: []string{"/h/secret"}}}})
	if err != nil || len(d.Parameters) != 1 {
		t.Fatalf("describe at the target: %v", err)
	}
	if k := aws.ToString(d.Parameters[0].KeyId); k != "alias/dst" {
		t.Errorf("target KeyId %q, want alias/dst", k)
	}
	for sel, want := range map[string]string{"/h/secret": "KEYMAP-s3", "/h/secret:old": "KEYMAP-s1", "/h/secret:prev": "KEYMAP-s2",
		"/h/secret:cur": "KEYMAP-s3", "/h/secret:1": "KEYMAP-s1", "/h/plain:first": "a", "/h/plain": "b"} {
		if got := get(sel); got != want {
			t.Errorf("target %s = %q, want %q", sel, got, want)
		}
	}
	h, err := sb.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/h/secret")})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range h.Parameters {
		if k := aws.ToString(v.KeyId); k != "alias/dst" {
			t.Errorf("target history version %d under %q, want alias/dst", v.Version, k)
		}
	}
	if out := run(); !strings.Contains(out, "target_writes=0") {
		t.Errorf("second sync wrote: %s", out)
	}

	// Move "old" to version 2 at the source: it moves at the target.
	must(sa.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/h/secret"), ParameterVersion: aws.Int64(2), Labels: []string{"old"}}))
	out = run()
	t.Logf("MIRROR after a label moved to an older version: %s", out)
	if got := get("/h/secret:old"); got != "KEYMAP-s2" {
		t.Errorf("target /h/secret:old = %q after the move, want KEYMAP-s2", got)
	}
}
