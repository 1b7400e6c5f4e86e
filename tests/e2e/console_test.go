package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
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
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paramstore/paramstore/internal/testproc"
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

// screenshotDir is where screenshot writes: $CONSOLE_SCREENSHOTS (the
// README's pictures come from CONSOLE_SCREENSHOTS=$PWD/docs/console), else
// paramstore-console-screenshots in the temporary directory, kept after the
// test as its artifacts.
func screenshotDir() string {
	if dir := os.Getenv("CONSOLE_SCREENSHOTS"); dir != "" {
		return dir
	}
	return filepath.Join(os.TempDir(), "paramstore-console-screenshots")
}

// screenshot writes the page to name.png in screenshotDir.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := screenshotDir()
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

// step runs browser actions, failing the test with what the step was and
// what the page showed. A step that takes over 45s is stuck.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		shown, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("%s: %v; the page showed:\n%s", what, err, shown)
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

// clsObserver sums the page's Cumulative Layout Shift (shifts not caused
// by input) into window.__cls, from the start of each document.
const clsObserver = `window.__cls = 0; window.__shifts = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) { if (!e.hadRecentInput) { window.__cls += e.value;
  window.__shifts.push(e.value.toFixed(4) + " " + (e.sources || []).map((s) => s.node ? (s.node.id || s.node.nodeName) : "?").join(",")); } } })
  .observe({ type: "layout-shift", buffered: true });`

// onNewDocument runs script at the start of every document the tab opens.
func onNewDocument(script string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
		return err
	})
}

// sessionCookie is the console's session cookie as the browser holds it
// (read through DevTools: the page itself cannot, it is HttpOnly).
func sessionCookie(t *testing.T, ctx context.Context, url string) *network.Cookie {
	t.Helper()
	res, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == "paramstore_console" {
			return c
		}
	}
	return nil
}

func evalJS[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// clearValue empties the form field id (chromedp.SetValue cannot set "").
func clearValue(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(document.getElementById(%q).value = "", true)`, id))(ctx, t)
		return err
	})
}

// visible waits until the XPath matches a visible element.
func visible(xpath string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.Search(xpath))
}

// sessionStatus is the status of GET /console/api/session with cookie
// value v, sent by a plain HTTP client.
func sessionStatus(t *testing.T, base, v string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/console/api/session", nil)
	req.AddCookie(&http.Cookie{Name: "paramstore_console", Value: v})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestConsoleBrowser drives the console in headless chromium along the
// whole path of issue 15, as one user session in one browser:
//   - sign-in (a wrong secret refused; the root key typed and submitted
//     from the keyboard), the tree walked with the keyboard, nothing in
//     browser storage and no readable cookie;
//   - a server restart: still signed in, the session file holding only
//     hashes that sign nobody in; no layout shift while the console loads;
//   - filters by type, tag and label; a label moved by the form;
//   - a SecureString hidden until an explicit reveal, whose decrypting
//     GetParameter shows in the audit screen, made by the console;
//   - create (the API's validation error shown first), edit, tags added
//     and removed, an Advanced-tier policy, delete;
//   - history, rollback with confirmation, compare;
//   - the cluster, incidents (timeline and report), webhooks and audit
//     screens;
//   - a cross-origin form post refused, sign-out, and a restricted user
//     refused a read and a write with the API's AccessDeniedException.
func TestConsoleBrowser(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, "--audit-stdout", "--enable-fault-injection")
	addr := srv.Addr()
	creds := srv.Credentials()
	const secret = "console-secret-93b1"
	bg := context.Background()
	sdk := srv.SSM()
	for _, p := range []struct{ name, value string }{{"/app/db/url", "postgres://db/app"}, {"/app/db/password", secret}, {"/app/dev/flag", "on"}} {
		typ := types.ParameterTypeString
		if p.value == secret {
			typ = types.ParameterTypeSecureString
		}
		if _, err := sdk.PutParameter(bg, &ssm.PutParameterInput{Name: aws.String(p.name), Value: aws.String(p.value), Type: typ}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sdk.PutParameter(bg, &ssm.PutParameterInput{Name: aws.String("/app/db/url"), Value: aws.String("postgres://db-2/app"),
		Overwrite: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.AddTagsToResource(bg, &ssm.AddTagsToResourceInput{ResourceType: types.ResourceTypeForTaggingParameter,
		ResourceId: aws.String("/app/db/url"), Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	// A webhook subscription and a finished incident (a drill: a fault
	// injected and cleared) for the health screens.
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer receiver.Close()
	admin := func() []string { return []string{"--endpoint", srv.URL(), "--credentials-file", srv.CredentialsFile()} }
	for _, args := range [][]string{
		append([]string{"notify", "add", "orders", "--url", receiver.URL, "--path", "/app"}, admin()...),
		append([]string{"fault", "inject", "--kind", "latency", "--latency", "1ms", "--operations", "GetParameters", "--duration", "10m"}, admin()...),
		append([]string{"fault", "clear"}, admin()...),
	} {
		if _, err := paramstoreCLI(t, args...); err != nil {
			t.Fatal(err)
		}
	}

	ctx := browser(t)
	t.Cleanup(func() { t.Logf("screenshots of the console's screens: %s", screenshotDir()) })
	step(t, ctx, "watch layout shifts", onNewDocument(clsObserver))
	url := srv.URL() + "/console/"
	whole := t
	phase := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	phase("SignInWithKeyboard", func(t *testing.T) {
		step(t, ctx, "open the console", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("signin-form")))
		screenshot(t, ctx, "signin")
		step(t, ctx, "a wrong secret", signIn(creds.ID, creds.Secret+"x"),
			visible(`//p[@id="signin-error" and contains(., "UnrecognizedClientException")]`))
		// The access key field has the focus; everything else is typed.
		step(t, ctx, "sign in from the keyboard", clearValue("akid"), clearValue("secret"),
			chromedp.Focus(chromedp.ID("akid")), chromedp.KeyEvent(creds.ID+kb.Tab+creds.Secret+kb.Enter),
			chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/db/password"]`)))
		// Both sign-ins are in the audit trail, without the secret.
		for _, want := range []string{`"eventName":"ConsoleLogin"`, `"errorCode":"UnrecognizedClientException"`} {
			line, err := srv.WaitLine(want, 30*time.Second)
			if err != nil {
				t.Fatalf("no ConsoleLogin record with %s: %v", want, err)
			}
			if !strings.Contains(line, `"ConsoleLogin"`) || !strings.Contains(line, `"userAgent":"paramstore-console/1`) ||
				!strings.Contains(line, creds.ID) || strings.Contains(line, creds.Secret) {
				t.Errorf("sign-in record: got %s, want a ConsoleLogin of %s from the console, without the secret", line, creds.ID)
			}
		}
		text := textOf(t, ctx, "#tree")
		for _, want := range []string{"app/", "db/", "url", "password", "dev/", "flag"} {
			if !strings.Contains(text, want) {
				t.Errorf("tree: got %q, want %q in it", text, want)
			}
		}
		// The search has the focus: down into the tree, down once more,
		// Enter opens /app/db/url.
		step(t, ctx, "walk the tree", chromedp.KeyEvent(kb.ArrowDown+kb.ArrowDown+kb.Enter),
			visible(`//h2[@id="d-name" and .="/app/db/url"]`))
		if got := evalJS[string](t, ctx, `document.activeElement.dataset.name`); got != "/app/db/url" {
			t.Errorf("focus after the keyboard walk: got %q, want the /app/db/url tree item", got)
		}
		step(t, ctx, "/ goes back to the search", chromedp.Focus(chromedp.ID("edit")), chromedp.KeyEvent("/"))
		if got := evalJS[string](t, ctx, `document.activeElement.id`); got != "search" {
			t.Errorf(`focus after "/": got %q, want the search`, got)
		}
		if got := evalJS[string](t, ctx, `localStorage.length + "," + sessionStorage.length + "," + JSON.stringify(document.cookie)`); got != `0,0,""` {
			t.Errorf(`browser storage (localStorage, sessionStorage, document.cookie): got %s, want 0,0,""`, got)
		}
		c := sessionCookie(t, ctx, url)
		if c == nil || !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/console/" {
			t.Errorf("session cookie: got %+v, want HttpOnly, SameSite=Strict, Path /console/", c)
		}
	})

	phase("RestartKeepsSession", func(t *testing.T) {
		before := sessionCookie(t, ctx, url)
		if code, err := srv.Terminate(30 * time.Second); err != nil || code != 0 {
			t.Fatalf("stop the server: exit %d, %v", code, err)
		}
		// The new server lives as long as the whole test, not this phase.
		srv = testproc.StartServer(whole, testproc.ServerConfig{DataDir: dataDir, Listen: addr, Args: []string{"--audit-stdout", "--enable-fault-injection"}})
		sdk = srv.SSM()
		step(t, ctx, "reload after the restart", chromedp.Reload(),
			chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/db/url"]`)))
		if got := textOf(t, ctx, "#who"); !strings.Contains(got, creds.ID) {
			t.Errorf("signed in as: got %q, want %s", got, creds.ID)
		}
		// No layout shift while the console loaded (session, tree).
		if !evalJS[bool](t, ctx, `PerformanceObserver.supportedEntryTypes.includes("layout-shift")`) {
			t.Fatal("this chromium does not report layout shifts: the CLS check could not fail")
		}
		t.Logf("cumulative layout shift while loading: %.4f", evalJS[float64](t, ctx, `window.__cls`))
		if cls := evalJS[float64](t, ctx, `window.__cls`); cls > 0.01 {
			t.Errorf("cumulative layout shift while loading: got %.4f (%s), want at most 0.01", cls, evalJS[string](t, ctx, `window.__shifts.join("; ")`))
		}
		path := filepath.Join(dataDir, "console-sessions.json")
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		if st.Mode().Perm() != 0o600 || strings.Contains(string(data), before.Value) || strings.Contains(string(data), creds.Secret) {
			t.Errorf("session file (mode %v): %s; want 0600 without the cookie's value or the secret", st.Mode().Perm(), data)
		}
		// What a thief of the file holds signs nobody in; the browser's
		// cookie does.
		var f struct {
			Sessions []struct {
				ID   string `json:"id_sha256"`
				CSRF string `json:"csrf_sha256"`
			} `json:"sessions"`
		}
		if err := json.Unmarshal(data, &f); err != nil || len(f.Sessions) != 1 {
			t.Fatalf("session file: %s (%v), want one session", data, err)
		}
		for _, v := range []string{f.Sessions[0].ID, f.Sessions[0].CSRF} {
			if got := sessionStatus(t, srv.URL(), v); got != http.StatusUnauthorized {
				t.Errorf("a cookie made of the file's %s…: got %d, want 401", v[:8], got)
			}
		}
		if got := sessionStatus(t, srv.URL(), before.Value); got != http.StatusOK {
			t.Errorf("the browser's cookie: got %d, want 200", got)
		}
	})

	phase("Filters", func(t *testing.T) {
		step(t, ctx, "type SecureString", chromedp.SetValue(chromedp.ID("f-type"), "SecureString"), chromedp.Click(chromedp.ID("f-apply")),
			chromedp.WaitNotPresent(chromedp.CSS(`#tree button[data-name="/app/db/url"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/db/password"]`)))
		step(t, ctx, "tag env=prod", clearValue("f-type"), chromedp.SetValue(chromedp.ID("f-tag"), "env=prod"),
			chromedp.Click(chromedp.ID("f-apply")),
			chromedp.WaitNotPresent(chromedp.CSS(`#tree button[data-name="/app/db/password"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/db/url"]`)))
		if n := evalJS[int](t, ctx, `document.querySelectorAll("#tree button").length`); n != 1 {
			t.Errorf("tag filter: %d parameters shown, want 1", n)
		}
		screenshot(t, ctx, "filters")
		// A label moved onto version 1 by the form, then the label filter.
		// The whole tree again (the password is back) before a click.
		step(t, ctx, "label version 1", clearValue("f-tag"), chromedp.Click(chromedp.ID("f-apply")),
			chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/db/password"]`)),
			chromedp.Click(chromedp.CSS(`#tree button[data-name="/app/db/url"]`)), visible(`//h2[@id="d-name" and .="/app/db/url"]`),
			chromedp.SetValue(chromedp.ID("label-name"), "stable"), chromedp.SetValue(chromedp.ID("label-version"), "1"),
			chromedp.Click(chromedp.ID("label-move")),
			visible(`//p[@id="notice" and contains(., "Label stable is on version 1")]`),
			visible(`//table[@id="history"]//tr[@data-version="1"]/td[5][.="stable"]`))
		step(t, ctx, "an invalid label", chromedp.SetValue(chromedp.ID("label-name"), "1bad"), chromedp.Click(chromedp.ID("label-move")),
			visible(`//p[@id="detail-error" and contains(., "InvalidLabels")]`))
		step(t, ctx, "label filter", chromedp.SetValue(chromedp.ID("f-label"), "stable"), chromedp.Click(chromedp.ID("f-apply")),
			chromedp.WaitNotPresent(chromedp.CSS(`#tree button[data-name="/app/dev/flag"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/db/url"]`)),
			clearValue("f-label"), chromedp.Click(chromedp.ID("f-apply")),
			chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/dev/flag"]`)))
		got, err := sdk.GetParameter(bg, &ssm.GetParameterInput{Name: aws.String("/app/db/url:stable")})
		if err != nil || got.Parameter.Version != 1 {
			t.Errorf("/app/db/url:stable: got %v, %v; want version 1", got, err)
		}
	})

	phase("RevealAudited", func(t *testing.T) {
		step(t, ctx, "open the SecureString", chromedp.Click(chromedp.CSS(`#tree button[data-name="/app/db/password"]`)),
			chromedp.WaitVisible(chromedp.ID("reveal")))
		text := textOf(t, ctx, "#value")
		if strings.Contains(text, secret) || !strings.Contains(text, "hidden") {
			t.Errorf("SecureString before reveal: got %q, want it hidden", text)
		}
		screenshot(t, ctx, "parameter")
		step(t, ctx, "reveal", chromedp.Click(chromedp.ID("reveal")), chromedp.WaitNotVisible(chromedp.ID("reveal")))
		if text := textOf(t, ctx, "#value"); text != secret {
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
		// The audit screen shows it: newest first, filtered.
		step(t, ctx, "audit screen", chromedp.SetValue(chromedp.ID("a-name"), "/app/db/password"), chromedp.SetValue(chromedp.ID("a-op"), "GetParameter"),
			chromedp.Click(chromedp.CSS(`#tabs button[data-screen="audit"]`)),
			visible(`//table[@id="events"]//tr[td[2]="GetParameter" and td[4]="/app/db/password" and td[5]="yes" and starts-with(td[7], "paramstore-console/1")]`))
		if body := textOf(t, ctx, "#events"); strings.Contains(body, secret) || strings.Contains(body, "hmac-sha256") {
			t.Errorf("audit screen shows a value: %s", body)
		}
		if ops := evalJS[string](t, ctx, `[...new Set([...document.querySelectorAll("#events tbody tr")].map((r) => r.dataset.event))].join()`); ops != "GetParameter" {
			t.Errorf("operation filter: got rows of %q, want GetParameter only", ops)
		}
		screenshot(t, ctx, "audit")
		step(t, ctx, "another operation", chromedp.SetValue(chromedp.ID("a-op"), "PutParameter"), chromedp.Click(chromedp.ID("a-search")),
			visible(`//table[@id="events"]//tr[td[2]="PutParameter" and td[4]="/app/db/password"]`),
			chromedp.WaitNotPresent(chromedp.Search(`//table[@id="events"]//tr[td[2]="GetParameter"]`)))
		step(t, ctx, "back to the parameters", chromedp.Click(chromedp.CSS(`#tabs button[data-screen="browse"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/db/url"]`)))
	})

	phase("CreateEditTagDelete", func(t *testing.T) {
		step(t, ctx, "a name the API refuses", chromedp.Click(chromedp.ID("new-param")), chromedp.WaitVisible(chromedp.ID("editor")),
			chromedp.SetValue(chromedp.ID("e-name"), "/app/bad name"), chromedp.SetValue(chromedp.ID("e-value"), "v1"),
			chromedp.Click(chromedp.ID("e-save")), visible(`//p[@id="editor-error" and contains(., "ValidationException")]`))
		_, apiErr := sdk.PutParameter(bg, &ssm.PutParameterInput{Name: aws.String("/app/bad name"), Value: aws.String("v1"), Type: types.ParameterTypeString})
		if msg := textOf(t, ctx, "#editor-error"); apiErr == nil || !strings.Contains(apiErr.Error(), strings.TrimPrefix(msg, "ValidationException: ")) {
			t.Errorf("validation message: console %q, API %v; want the API's", msg, apiErr)
		}
		screenshot(t, ctx, "create-error")
		step(t, ctx, "create", chromedp.SetValue(chromedp.ID("e-name"), "/app/new/key"), chromedp.SetValue(chromedp.ID("e-description"), "made in the console"),
			chromedp.Click(chromedp.ID("e-save")), visible(`//p[@id="notice" and .="Created /app/new/key version 1."]`),
			chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/new/key"]`)))
		step(t, ctx, "edit with a policy", chromedp.Click(chromedp.ID("edit")), chromedp.WaitVisible(chromedp.ID("editor")),
			chromedp.SetValue(chromedp.ID("e-value"), "v2"), chromedp.SetValue(chromedp.ID("e-tier"), "Advanced"),
			chromedp.SetValue(chromedp.ID("e-policies"), `[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2099-01-01T00:00:00.000Z"}}]`),
			chromedp.Click(chromedp.ID("e-save")), visible(`//p[@id="notice" and .="Updated /app/new/key to version 2."]`),
			visible(`//dd[@id="d-policies" and contains(., "Expiration")]`))
		desc, err := sdk.DescribeParameters(bg, &ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Name"), Values: []string{"/app/new/key"}}}})
		if err != nil || len(desc.Parameters) != 1 || desc.Parameters[0].Tier != types.ParameterTierAdvanced || len(desc.Parameters[0].Policies) != 1 ||
			aws.ToString(desc.Parameters[0].Description) != "made in the console" {
			t.Errorf("after the edit: got %+v, %v; want Advanced with one policy and the description", desc, err)
		}
		step(t, ctx, "add a tag", chromedp.SetValue(chromedp.ID("tag-key"), "team"), chromedp.SetValue(chromedp.ID("tag-value"), "core"),
			chromedp.Click(chromedp.ID("tag-add")), chromedp.WaitVisible(chromedp.CSS(`#tags tr[data-key="team"]`)))
		tags, err := sdk.ListTagsForResource(bg, &ssm.ListTagsForResourceInput{ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: aws.String("/app/new/key")})
		if err != nil || len(tags.TagList) != 1 || aws.ToString(tags.TagList[0].Value) != "core" {
			t.Errorf("tags after adding: got %+v, %v; want team=core", tags, err)
		}
		screenshot(t, ctx, "edited")
		step(t, ctx, "remove the tag", chromedp.Click(chromedp.CSS(`#tags tr[data-key="team"] button.tag-remove`)),
			chromedp.WaitNotPresent(chromedp.CSS(`#tags tr[data-key="team"]`)))
		step(t, ctx, "delete", chromedp.Click(chromedp.ID("delete")), chromedp.WaitVisible(chromedp.ID("confirm-delete")),
			chromedp.Click(chromedp.ID("confirm-delete-yes")), visible(`//p[@id="notice" and .="Deleted /app/new/key."]`),
			chromedp.WaitNotPresent(chromedp.CSS(`#tree button[data-name="/app/new/key"]`)))
		var nf *types.ParameterNotFound
		if _, err := sdk.GetParameter(bg, &ssm.GetParameterInput{Name: aws.String("/app/new/key")}); !errors.As(err, &nf) {
			t.Errorf("after delete: got %v, want ParameterNotFound", err)
		}
	})

	phase("RollbackAndCompare", func(t *testing.T) {
		// Version 1's value becomes version 3, the label stays on 1.
		step(t, ctx, "history", chromedp.Click(chromedp.CSS(`#tree button[data-name="/app/db/url"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#history tr[data-version="1"] button.rollback`)),
			chromedp.Click(chromedp.CSS(`#history tr[data-version="1"] button.rollback`)),
			chromedp.WaitVisible(chromedp.ID("confirm")))
		screenshot(t, ctx, "history")
		step(t, ctx, "roll back", chromedp.Click(chromedp.ID("confirm-yes")),
			visible(`//p[@id="notice" and contains(., "as version 3")]`),
			chromedp.WaitVisible(chromedp.CSS(`#history tr[data-version="3"]`)))
		if got := textOf(t, ctx, "#value"); got != "postgres://db/app" {
			t.Errorf("value after rollback: got %q, want version 1's", got)
		}
		got, err := sdk.GetParameter(bg, &ssm.GetParameterInput{Name: aws.String("/app/db/url")})
		if err != nil || aws.ToString(got.Parameter.Value) != "postgres://db/app" || got.Parameter.Version != 3 {
			t.Errorf("after rollback: got %v, %v; want version 1's value as version 3", got, err)
		}
		if _, err := srv.WaitLine(`"eventName":"PutParameter","awsRegion":"us-east-1","sourceIPAddress":"127.0.0.1","userAgent":"paramstore-console/1`, 30*time.Second); err != nil {
			t.Fatalf("no audit record of the console's rollback: %v", err)
		}
		step(t, ctx, "compare", chromedp.Click(chromedp.ID("compare")), chromedp.WaitVisible(chromedp.ID("diff")))
		if got, want := textOf(t, ctx, "#diff"), "--- /app/db/url version 2\n+++ /app/db/url version 3\n"; !strings.HasPrefix(got, want) ||
			!strings.Contains(got, "\n Value:\n-postgres://db-2/app\n+postgres://db/app") {
			t.Errorf("diff of versions 2 and 3: got\n%s\nwant the headers and the value change", got)
		}
		screenshot(t, ctx, "diff")
		step(t, ctx, "search", chromedp.SendKeys(chromedp.ID("search"), "url"),
			chromedp.WaitNotPresent(chromedp.CSS(`#tree button[data-name="/app/db/password"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/db/url"]`)))
	})

	phase("HealthScreens", func(t *testing.T) {
		step(t, ctx, "cluster", chromedp.Click(chromedp.CSS(`#tabs button[data-screen="cluster"]`)),
			visible(`//dl[@id="node-status"]/dd[.="ready (200)"]`), visible(`//table[@id="nodes"]//tr[@data-ready="true" and td[5]="leader" and td[7]="Leader"]`))
		for _, want := range []string{"Leader", "Commit index", "Applied index", "Staleness (s)", "Leader"} {
			if !strings.Contains(textOf(t, ctx, "#node-status"), want) {
				t.Errorf("cluster screen: no %q in %q", want, textOf(t, ctx, "#node-status"))
			}
		}
		screenshot(t, ctx, "cluster")
		step(t, ctx, "incidents", chromedp.Click(chromedp.CSS(`#tabs button[data-screen="incidents"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#incident-list button.incident-open`)),
			chromedp.Click(chromedp.CSS(`#incident-list button.incident-open`)),
			visible(`//pre[@id="incident-report" and contains(., "## Timeline")]`))
		if tl := textOf(t, ctx, "#incident-timeline"); !strings.Contains(tl, "latency") {
			t.Errorf("incident timeline: got %q, want the injected latency fault", tl)
		}
		if r := textOf(t, ctx, "#incident-report"); !strings.HasPrefix(r, "# Incident ") || !strings.Contains(r, "Kind: drill") {
			t.Errorf("incident report: got %q, want the markdown report of the drill", r)
		}
		screenshot(t, ctx, "incidents")
		step(t, ctx, "webhooks", chromedp.Click(chromedp.CSS(`#tabs button[data-screen="webhooks"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#subscriptions tr[data-name="orders"]`)))
		if row := textOf(t, ctx, `#subscriptions tr[data-name="orders"]`); !strings.Contains(row, receiver.URL) || !strings.Contains(row, "/app") {
			t.Errorf("webhook row: got %q, want the receiver and the path", row)
		}
		screenshot(t, ctx, "webhooks")
		step(t, ctx, "back", chromedp.Click(chromedp.CSS(`#tabs button[data-screen="browse"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/db/url"]`)))
	})

	phase("CrossOriginRefused", func(t *testing.T) {
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
			visible(`//body[contains(., "Cross-origin request refused")]`))
		if body := textOf(t, ctx, "body"); strings.Contains(body, secret) {
			t.Errorf("cross-origin post: got %q", body)
		}
		step(t, ctx, "back to the console", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/db/url"]`)))
	})

	phase("SignOut", func(t *testing.T) {
		c := sessionCookie(t, ctx, url)
		step(t, ctx, "sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("signin-form")),
			chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("signin-form")))
		if got := sessionStatus(t, srv.URL(), c.Value); got != http.StatusUnauthorized {
			t.Errorf("the signed-out cookie: got %d, want 401", got)
		}
		if data, _ := os.ReadFile(filepath.Join(dataDir, "console-sessions.json")); strings.Contains(string(data), "id_sha256") {
			t.Errorf("session file after sign-out: %s, want no session", data)
		}
	})

	phase("RestrictedUserDenied", func(t *testing.T) {
		// A user who may list everything but read only /app/dev/*.
		policy := filepath.Join(t.TempDir(), "dev.json")
		writeTestFile(t, policy, `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"ssm:DescribeParameters","Resource":"*"},
			{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"arn:aws:ssm:*:*:parameter/app/dev/*"}]}`)
		auth := append([]string{"auth"}, admin()...)
		if _, err := paramstoreCLI(t, append(auth, "create-user", "dev", "--policy-file", policy)...); err != nil {
			t.Fatal(err)
		}
		out, err := paramstoreCLI(t, append(auth, "create-access-key", "dev")...)
		if err != nil {
			t.Fatal(err)
		}
		step(t, ctx, "sign in as dev", signIn(credValue(t, out, "aws_access_key_id"), credValue(t, out, "aws_secret_access_key")),
			chromedp.WaitVisible(chromedp.CSS(`#tree button[data-name="/app/dev/flag"]`)),
			chromedp.Click(chromedp.CSS(`#tree button[data-name="/app/dev/flag"]`)),
			visible(`//pre[@id="value" and .="on"]`))
		step(t, ctx, "dev is denied /app/db/url", chromedp.Click(chromedp.CSS(`#tree button[data-name="/app/db/url"]`)),
			visible(`//p[@id="detail-error" and contains(., "AccessDeniedException")]`))
		if text := textOf(t, ctx, "#detail-error"); !strings.Contains(text, "not authorized to perform: ssm:GetParameter") {
			t.Errorf("denied read: got %q, want the API's AccessDeniedException message", text)
		}
		screenshot(t, ctx, "denied")
		step(t, ctx, "dev is denied a write", chromedp.Click(chromedp.ID("new-param")), chromedp.WaitVisible(chromedp.ID("editor")),
			chromedp.SetValue(chromedp.ID("e-name"), "/app/dev/new"), chromedp.SetValue(chromedp.ID("e-value"), "x"),
			chromedp.Click(chromedp.ID("e-save")), visible(`//p[@id="editor-error" and contains(., "AccessDeniedException")]`))
		if text := textOf(t, ctx, "#editor-error"); !strings.Contains(text, "not authorized to perform: ssm:PutParameter") {
			t.Errorf("denied write: got %q, want the API's AccessDeniedException message", text)
		}
		step(t, ctx, "dev is denied the audit trail", chromedp.Click(chromedp.CSS(`#tabs button[data-screen="audit"]`)),
			visible(`//p[@id="audit-error" and contains(., "AccessDeniedException")]`))
		if _, err := srv.WaitLine(`"errorCode":"AccessDeniedException"`, 30*time.Second); err != nil {
			t.Errorf("no audit record of the denied calls: %v", err)
		}
		// The session keeps no credentials of its own: once dev's key is
		// deleted, its session can do nothing.
		if _, err := paramstoreCLI(t, append(auth, "delete-access-key", credValue(t, out, "aws_access_key_id"))...); err != nil {
			t.Fatal(err)
		}
		step(t, ctx, "a deleted key's session", chromedp.Click(chromedp.CSS(`#tabs button[data-screen="browse"]`)),
			visible(`//p[@id="tree-error" and contains(., "UnrecognizedClientException")]`))
	})
}
