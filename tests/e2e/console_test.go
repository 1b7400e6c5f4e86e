package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/chromedp/chromedp"
)

// browser starts headless Debian chromium with a fresh profile and returns
// a chromedp context for one tab; both end with the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is required for the console tests (apt-get install -y chromium): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	// A generous bound: a test that waits longer than this is stuck, and
	// its error says which step.
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// screenshot writes the page to $CONSOLE_SCREENSHOTS/name.png when that
// directory is set (the README's pictures come from there).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("CONSOLE_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// step runs browser actions, failing the test with what the step was.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// text is the visible text of the element sel.
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func signIn(id, secret string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.ID("akid")),
		chromedp.SetValue(chromedp.ID("akid"), id),
		chromedp.SetValue(chromedp.ID("secret"), secret),
		chromedp.Click(chromedp.ID("signin-btn")),
	)
}

// TestConsoleBrowser drives the console's first screen in headless
// chromium: a wrong secret is refused, the root key signs in, the tree
// shows the parameters, a SecureString is hidden until an explicit reveal
// (which leaves a decrypting GetParameter in the audit trail, made by the
// console), sign-out ends the session, and a restricted user sees a
// denied read refused with the API's AccessDeniedException.
func TestConsoleBrowser(t *testing.T) {
	srv := startServer(t, t.TempDir(), "--audit-stdout")
	creds := srv.Credentials()
	const secret = "console-secret-93b1"
	sdk := srv.SSM()
	for _, p := range []struct{ name, value string }{{"/app/db/url", "postgres://db/app"}, {"/app/db/password", secret}, {"/app/dev/flag", "on"}} {
		typ := types.ParameterTypeString
		if p.value == secret {
			typ = types.ParameterTypeSecureString
		}
		if _, err := sdk.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String(p.name), Value: aws.String(p.value), Type: typ}); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := sdk.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String("/app/db/url"), Value: aws.String("postgres://db-2/app"),
		Overwrite: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}

	ctx := browser(t)
	url := srv.URL() + "/console/"
	var text string

	step(t, ctx, "open the console", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("signin-form")))
	screenshot(t, ctx, "signin")

	step(t, ctx, "a wrong secret", signIn(creds.ID, creds.Secret+"x"),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="signin-error" and contains(., "UnrecognizedClientException")]`)))

	step(t, ctx, "sign in as root", signIn(creds.ID, creds.Secret),
		chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/db/password"]`)))
	text = textOf(t, ctx, "#tree")
	for _, want := range []string{"app/", "db/", "url", "password", "dev/", "flag"} {
		if !strings.Contains(text, want) {
			t.Errorf("tree: got %q, want %q in it", text, want)
		}
	}

	step(t, ctx, "open the SecureString", chromedp.Click(chromedp.CSS(`#tree button[data-name="/app/db/password"]`)),
		chromedp.WaitVisible(chromedp.ID("reveal")))
	text = textOf(t, ctx, "#value")
	if strings.Contains(text, secret) || !strings.Contains(text, "hidden") {
		t.Errorf("SecureString before reveal: got %q, want it hidden", text)
	}
	screenshot(t, ctx, "parameter")
	step(t, ctx, "reveal", chromedp.Click(chromedp.ID("reveal")),
		chromedp.WaitNotVisible(chromedp.ID("reveal")))
	text = textOf(t, ctx, "#value")
	if text != secret {
		t.Errorf("revealed value: got %q, want the secret", text)
	}
	screenshot(t, ctx, "revealed")
	line, err := srv.WaitLine(`"WithDecryption":true`, 30*time.Second)
	if err != nil {
		t.Fatalf("no audit record of the reveal: %v", err)
	}
	if !strings.Contains(line, `"eventName":"GetParameter"`) || !strings.Contains(line, `"userAgent":"paramstore-console/1`) ||
		!strings.Contains(line, `"Name":"/app/db/password"`) || strings.Contains(line, secret) {
		t.Errorf("audit record of the reveal: got %s, want a console GetParameter of /app/db/password without the value", line)
	}

	// History and rollback with confirmation: version 1's value becomes
	// version 3.
	step(t, ctx, "history", chromedp.Click(chromedp.CSS(`#tree button[data-name="/app/db/url"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#history tr[data-version="1"] button.rollback`)),
		chromedp.Click(chromedp.CSS(`#history tr[data-version="1"] button.rollback`)),
		chromedp.WaitVisible(chromedp.ID("confirm")))
	screenshot(t, ctx, "history")
	step(t, ctx, "roll back", chromedp.Click(chromedp.ID("confirm-yes")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="notice" and contains(., "as version 3")]`)),
		chromedp.WaitVisible(chromedp.CSS(`#history tr[data-version="3"]`)))
	if got := textOf(t, ctx, "#value"); got != "postgres://db/app" {
		t.Errorf("value after rollback: got %q, want version 1's", got)
	}
	got, err := sdk.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/app/db/url")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.Parameter.Value) != "postgres://db/app" || got.Parameter.Version != 3 {
		t.Errorf("after rollback: got %q version %d, want version 1's value as version 3", aws.ToString(got.Parameter.Value), got.Parameter.Version)
	}
	if _, err := srv.WaitLine(`"eventName":"PutParameter","awsRegion":"us-east-1","sourceIPAddress":"127.0.0.1","userAgent":"paramstore-console/1`, 30*time.Second); err != nil {
		t.Fatalf("no audit record of the console's rollback: %v", err)
	}

	// The two latest versions are checked: their diff.
	step(t, ctx, "compare", chromedp.Click(chromedp.ID("compare")), chromedp.WaitVisible(chromedp.ID("diff")))
	if got, want := textOf(t, ctx, "#diff"), "--- /app/db/url version 2\n+++ /app/db/url version 3\n"; !strings.HasPrefix(got, want) ||
		!strings.Contains(got, "\n Value:\n-postgres://db-2/app\n+postgres://db/app") {
		t.Errorf("diff of versions 2 and 3: got\n%s\nwant the headers and the value change", got)
	}
	screenshot(t, ctx, "diff")

	step(t, ctx, "filter", chromedp.SendKeys(chromedp.ID("search"), "url"),
		chromedp.WaitNotPresent(chromedp.CSS(`#tree button[data-name="/app/db/password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/db/url"]`)))

	// Another origin's page (same site: 127.0.0.1, so even the
	// SameSite=Strict cookie goes along) posts a decrypting read to the
	// console's API while root is signed in: refused.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form method="POST" action="%s/console/api/call" enctype="text/plain">`+
			`<input name='{"Action":"GetParameter","Input":{"Name":"/app/db/password","WithDecryption":true},"x":"' value='"}'>`+
			`</form><script>document.forms[0].submit()</script>`, srv.URL())
	}))
	defer evil.Close()
	step(t, ctx, "a cross-origin form post", chromedp.Navigate(evil.URL),
		chromedp.WaitVisible(chromedp.Search(`//body[contains(., "Cross-origin request refused")]`)))
	if body := textOf(t, ctx, "body"); strings.Contains(body, secret) {
		t.Errorf("cross-origin post: got %q", body)
	}
	step(t, ctx, "back to the console", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/db/url"]`)))

	step(t, ctx, "sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("signin-form")),
		chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("signin-form")))
	cookies, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	if err != nil {
		t.Fatal(err)
	}
	if cookies != "" {
		t.Errorf("document.cookie: got %q, want nothing readable", cookies)
	}

	// A user who may list everything but read only /app/dev/*.
	policy := filepath.Join(t.TempDir(), "dev.json")
	writeTestFile(t, policy, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ssm:DescribeParameters","Resource":"*"},
		{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"arn:aws:ssm:*:*:parameter/app/dev/*"}]}`)
	admin := []string{"auth", "--endpoint", srv.URL(), "--credentials-file", srv.CredentialsFile()}
	if _, err := paramstoreCLI(t, append(admin, "create-user", "dev", "--policy-file", policy)...); err != nil {
		t.Fatal(err)
	}
	out, err := paramstoreCLI(t, append(admin, "create-access-key", "dev")...)
	if err != nil {
		t.Fatal(err)
	}
	step(t, ctx, "sign in as dev", signIn(credValue(t, out, "aws_access_key_id"), credValue(t, out, "aws_secret_access_key")),
		chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/dev/flag"]`)),
		chromedp.Click(chromedp.CSS(`#tree button[data-name="/app/dev/flag"]`)),
		chromedp.WaitVisible(chromedp.Search(`//pre[@id="value" and .="on"]`)))
	step(t, ctx, "dev is denied /app/db/url", chromedp.Click(chromedp.CSS(`#tree button[data-name="/app/db/url"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="detail-error" and contains(., "AccessDeniedException")]`)))
	text = textOf(t, ctx, "#detail-error")
	if !strings.Contains(text, "not authorized to perform: ssm:GetParameter") {
		t.Errorf("denied read: got %q, want the API's AccessDeniedException message", text)
	}
	screenshot(t, ctx, "denied")
}
