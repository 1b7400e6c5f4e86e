package e2e_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/client"
	"github.com/paramstore/paramstore/internal/httpclient"
	"github.com/paramstore/paramstore/internal/testpki"
	"github.com/paramstore/paramstore/internal/testproc"
)

// caHint is what every client of ours says when the server's certificate
// is signed by a CA it does not trust.
const caHint = "give the CA bundle that signed it with --ca-file FILE or AWS_CA_BUNDLE=FILE"

// tlsServer is a server serving HTTPS with a certificate of a private CA
// made in the test, and a plain dev server (a mirror's target).
type tlsFixture struct {
	ca     *testpki.CA
	server *testproc.Server
	url    string
	env    []string // signs with the server's root key; trusts nothing extra
}

func startTLSServer(t *testing.T) *tlsFixture {
	t.Helper()
	ca := testpki.NewCA(t, "Example Corp private CA")
	leaf := ca.Issue(t, "paramstore", "127.0.0.1", "localhost")
	s := testproc.StartServer(t, testproc.ServerConfig{DataDir: t.TempDir(), Env: testproc.Env(),
		Args: []string{"--no-audit", "--tls-cert", leaf.CertFile, "--tls-key", leaf.KeyFile, "--enable-fault-injection"},
		TLS:  &tls.Config{RootCAs: ca.Pool()}})
	return &tlsFixture{ca: ca, server: s, url: s.URL(), env: s.Credentials().Env(t)}
}

// TestTLSClients: every client family of ours reaches an HTTPS server whose
// certificate a private CA signed, through AWS_CA_BUNDLE and through
// --ca-file, and without either fails with a message naming the CA problem
// and the two fixes.
func TestTLSClients(t *testing.T) {
	f := startTLSServer(t)
	if _, err := f.server.SSM().PutParameter(context.Background(), putInput("/tls/db-url", "postgres://db/app")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "bundle.key")
	os.WriteFile(keyFile, []byte(strings.Repeat("k", 32)), 0o600)
	exportFile := filepath.Join(dir, "export.json")
	dev := testproc.StartServer(t, testproc.ServerConfig{Name: "mirror-target", DataDir: t.TempDir(), Env: testproc.Env(), Args: []string{"--dev"}})

	type family struct {
		name string
		args []string
		// caFlag is the flag that names the CA (default --ca-file).
		caFlag string
		want   string // in stdout on success
	}
	families := []family{
		{name: "human put", args: []string{"put", "/tls/feature", "on", "--endpoint", f.url}, want: "/tls/feature"},
		{name: "human get", args: []string{"get", "/tls/db-url", "--endpoint", f.url}, want: "postgres://db/app"},
		{name: "human ls", args: []string{"ls", "/tls", "--endpoint", f.url}, want: "db-url"},
		{name: "export", args: []string{"export", "--path", "/tls", "--out", exportFile, "--endpoint", f.url}},
		{name: "bundle", args: []string{"bundle", "create", "--path", "/tls", "--key-file", keyFile, "--out", filepath.Join(dir, "b.bundle"), "--endpoint", f.url}, want: "parameters under /tls"},
		{name: "keys", args: []string{"keys", "list", "--endpoint", f.url}, want: "alias/aws/ssm"},
		{name: "auth", args: []string{"auth", "list", "--endpoint", f.url}},
		{name: "cluster", args: []string{"cluster", "list", "--endpoint", f.url}},
		{name: "notify", args: []string{"notify", "list", "--endpoint", f.url}},
		{name: "incidents", args: []string{"incidents", "list", "--endpoint", f.url}, want: "ID"},
		{name: "fault", args: []string{"fault", "clear", "--endpoint", f.url}, want: "no fault was active"},
		{name: "snapshot", args: []string{"snapshot", "save", filepath.Join(dir, "snap.db"), "--endpoint", f.url}, want: "saved"},
		{name: "exec", args: []string{"exec", "--upstream", f.url, "--path", "/tls", "--", "sh", "-c", "echo DB_URL=$DB_URL"}, want: "DB_URL=postgres://db/app"},
		{name: "mirror (source)", args: []string{"mirror", "--once", "--source-endpoint", f.url, "--source-credentials-file", f.server.CredentialsFile(),
			"--path", "/tls", "--endpoint", dev.URL()}, caFlag: "--source-ca-file", want: "run 1"},
	}
	// import reads the file export wrote: it runs after export.
	families = append(families, family{name: "import", args: []string{"import", exportFile, "--overwrite", "--endpoint", f.url}})
	for _, fam := range families {
		t.Run(fam.name, func(t *testing.T) {
			caFlag := fam.caFlag
			if caFlag == "" {
				caFlag = "--ca-file"
			}
			_, errs, code := cliRun(t, f.env, nil, fam.args)
			if code == 0 || !strings.Contains(errs, caHint) || !strings.Contains(errs, "certificate signed by unknown authority") {
				t.Fatalf("without a CA: exit %d, stderr %q; want a failure naming the CA problem and %q", code, errs, caHint)
			}
			for _, how := range []struct {
				name  string
				env   []string
				flags []string
			}{
				{"AWS_CA_BUNDLE", append(append([]string(nil), f.env...), "AWS_CA_BUNDLE="+f.ca.CertFile), nil},
				{caFlag, f.env, []string{caFlag, f.ca.CertFile}},
			} {
				out, errs, code := cliRun(t, how.env, how.flags, fam.args)
				if code != 0 {
					t.Fatalf("through %s: exit %d: %s", how.name, code, errs)
				}
				if !strings.Contains(out, fam.want) {
					t.Errorf("through %s: stdout %q, want %q in it", how.name, out, fam.want)
				}
			}
		})
	}
}

// TestTLSAgent: the agent reads from an HTTPS upstream through
// AWS_CA_BUNDLE and through --ca-file; without either its reads fail and
// it logs the CA problem and the two fixes.
func TestTLSAgent(t *testing.T) {
	f := startTLSServer(t)
	if _, err := f.server.SSM().PutParameter(context.Background(), putInput("/tls/agent", "through-the-agent")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		env   []string
		flags []string
		ok    bool
	}{
		{name: "AWS_CA_BUNDLE", env: []string{"AWS_CA_BUNDLE=" + f.ca.CertFile}, ok: true},
		{name: "--ca-file", flags: []string{"--ca-file", f.ca.CertFile}, ok: true},
		{name: "neither"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One attempt, given all the time it needs (as in
			// TestTLSClientPackage): a timed-out handshake is not the
			// answer under test.
			args := append([]string{"agent", "--listen", "127.0.0.1:0", "--upstream", f.url, "--token", "tok", "--watch-path", "",
				"--health-check-interval", "-1s", "--max-attempts", "1", "--attempt-timeout", "30s"}, tc.flags...)
			a := testproc.StartListening(t, testproc.Config{Name: "agent", Args: args, Env: append(append([]string(nil), f.env...), tc.env...)})
			req, _ := http.NewRequest(http.MethodGet, a.URL()+"/systemsmanager/parameters/get?name=/tls/agent", nil)
			req.Header.Set("X-Aws-Parameters-Secrets-Token", "tok")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.ok {
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "through-the-agent") {
					t.Fatalf("got %d %s, want the value", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode == http.StatusOK {
				t.Fatalf("got 200 %s without a CA, want a failure", body)
			}
			if _, err := a.WaitLine(caHint, 10*time.Second); err != nil {
				t.Fatalf("the agent did not log the CA problem: %v", err)
			}
		})
	}
}

// TestTLSClientPackage: the public client package reaches an HTTPS
// server through Config.RootCAs, through AWS_CA_BUNDLE, and fails with the
// CA message without either.
func TestTLSClientPackage(t *testing.T) {
	f := startTLSServer(t)
	if _, err := f.server.SSM().PutParameter(context.Background(), putInput("/tls/client", "v1")); err != nil {
		t.Fatal(err)
	}
	creds := f.server.Credentials()
	for _, tc := range []struct {
		name    string
		rootCAs bool
		bundle  string
		ok      bool
	}{
		{name: "RootCAs", rootCAs: true, ok: true},
		{name: "AWS_CA_BUNDLE", bundle: f.ca.CertFile, ok: true},
		{name: "neither"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolateAWS(t)
			if tc.bundle != "" {
				t.Setenv("AWS_CA_BUNDLE", tc.bundle)
			}
			// One attempt, given all the time it needs: with the default
			// 2 s per attempt, a loaded machine (load average 25, -race)
			// timed the TLS handshake out, and the answer was "no upstream
			// available" instead of the CA message under test.
			cfg := client.Config{Endpoints: []string{f.url}, Region: "us-east-1", MaxAttempts: 1, Timeout: 30 * time.Second,
				Credentials: credentials.NewStaticCredentialsProvider(creds.ID, creds.Secret, ""), HealthCheckInterval: -1}
			if tc.rootCAs {
				cfg.RootCAs = f.ca.Pool()
			}
			c, err := client.New(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			res, err := c.Get(context.Background(), "/tls/client", false)
			if tc.ok {
				if err != nil || res.Value != "v1" {
					t.Fatalf("got %v, %v; want v1", res.Value, err)
				}
				return
			}
			var ce *httpclient.CAError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), caHint) {
				t.Fatalf("got %v, want the CA message", err)
			}
		})
	}
}

// isolateAWS clears the host's AWS settings for an in-process client.
func isolateAWS(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// TestTLSClientCertificate: behind a TLS front that requires client
// certificates of a company CA (SigV4 stays the authentication; the
// server's own client-certificate auth is not required), each command
// family connects with --client-cert/--client-key and fails without,
// naming the two flags.
func TestTLSClientCertificate(t *testing.T) {
	f := startTLSServer(t)
	clientCA := testpki.NewCA(t, "Example Corp client CA")
	mine := clientCA.Issue(t, "ops laptop")
	front := f.ca.Issue(t, "front", "127.0.0.1")
	target, _ := url.Parse(f.url)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // SigV4 signed the front's host
		},
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.ca.Pool()}},
	}
	srv := &http.Server{Handler: proxy, TLSConfig: &tls.Config{Certificates: []tls.Certificate{front.TLS},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCA.Pool()}}
	ln := listenTLS(t, srv)
	frontURL := "https://" + ln
	if _, err := f.server.SSM().PutParameter(context.Background(), putInput("/mtls/x", "behind-the-front")); err != nil {
		t.Fatal(err)
	}
	env := append(append([]string(nil), f.env...), "AWS_CA_BUNDLE="+f.ca.CertFile)
	for _, args := range [][]string{
		{"get", "/mtls/x", "--endpoint", frontURL},
		{"keys", "list", "--endpoint", frontURL},
		{"incidents", "list", "--endpoint", frontURL},
		{"exec", "--upstream", frontURL, "--path", "/mtls", "--", "sh", "-c", "echo X=$X"},
	} {
		t.Run(args[0], func(t *testing.T) {
			_, errs, code := cliRun(t, env, nil, args)
			if code == 0 || !strings.Contains(errs, "--client-cert FILE --client-key FILE") {
				t.Fatalf("without a client certificate: exit %d, stderr %q; want a failure naming --client-cert", code, errs)
			}
			if _, errs, code := cliRun(t, env, []string{"--client-cert", mine.CertFile, "--client-key", mine.KeyFile}, args); code != 0 {
				t.Fatalf("with --client-cert: exit %d: %s", code, errs)
			}
		})
	}
}

// cliRun runs the binary with args, flags inserted before a "--" (exec's
// command) or at the end, in env; it returns stdout, stderr and the exit
// code.
func cliRun(t *testing.T, env, flags, args []string) (string, string, int) {
	t.Helper()
	all := append([]string(nil), args...)
	if i := slices.Index(all, "--"); i >= 0 {
		all = slices.Insert(all, i, flags...)
	} else {
		all = append(all, flags...)
	}
	c := &humanCLI{t: t, env: env}
	return c.run("", all...)
}

func putInput(name, value string) *ssm.PutParameterInput {
	return &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: types.ParameterTypeString, Overwrite: aws.Bool(true)}
}

// listenTLS serves srv with its TLSConfig on a port of 127.0.0.1 until
// the test ends, and returns the address.
func listenTLS(t *testing.T, srv *http.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestTLSRotation: the API certificate is replaced on disk and the server
// gets SIGHUP: new connections present the new certificate, its expiry is
// in the metrics, and a client loop running through the swap (half its
// requests on fresh connections) sees no failed request. A damaged
// replacement is refused and the certificate in use stays.
func TestTLSRotation(t *testing.T) {
	ca := testpki.NewCA(t, "Example Corp private CA")
	dir := t.TempDir()
	old := ca.IssueWith(t, testpki.Options{Dir: dir}, "paramstore", "127.0.0.1")
	pool := ca.Pool()
	s := testproc.StartServer(t, testproc.ServerConfig{DataDir: t.TempDir(), Env: testproc.Env(),
		Args: []string{"--no-audit", "--tls-cert", old.CertFile, "--tls-key", old.KeyFile, "--tls-reload-interval", "-1s"},
		TLS:  &tls.Config{RootCAs: pool}})
	if got := presented(t, s.Addr(), pool); got.SerialNumber.Cmp(old.Cert.SerialNumber) != 0 {
		t.Fatalf("presented serial %x, want the first certificate's %x", got.SerialNumber, old.Cert.SerialNumber)
	}
	if _, err := s.SSM().PutParameter(context.Background(), putInput("/rot/x", "v")); err != nil {
		t.Fatal(err)
	}

	// The loop: one client reusing its connection, one dialing each time.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, failed int
	var firstErr error
	for _, keepAlive := range []bool{true, false} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: !keepAlive}
		c := s.SSM(func(o *ssm.Options) { o.HTTPClient = &http.Client{Transport: tr, Timeout: 30 * time.Second} })
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := c.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/rot/x")})
				mu.Lock()
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					ok++
				}
				mu.Unlock()
			}
		})
	}
	count := func() (int, int) { mu.Lock(); defer mu.Unlock(); return ok, failed }
	waitCount := func(n int) {
		deadline := time.Now().Add(30 * time.Second)
		for o, _ := count(); o < n; o, _ = count() {
			if time.Now().After(deadline) {
				t.Fatalf("the client loop made %d requests in 30s", o)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitCount(20)

	// cert-manager style: the new pair is written beside and renamed in.
	next := ca.IssueWith(t, testpki.Options{NotAfter: time.Now().Add(48 * time.Hour).Truncate(time.Second)}, "paramstore rotated", "127.0.0.1")
	for _, f := range [][2]string{{next.CertFile, old.CertFile}, {next.KeyFile, old.KeyFile}} {
		raw, _ := os.ReadFile(f[0])
		if err := os.WriteFile(f[1]+".new", raw, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f[1]+".new", f[1]); err != nil {
			t.Fatal(err)
		}
	}
	reloaded := s.WatchLog("tls: reloaded")
	if err := s.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reloaded:
	case <-time.After(30 * time.Second):
		t.Fatalf("no \"tls: reloaded\" line after SIGHUP; last lines:\n%s", s.Tail(10))
	}
	line, _ := s.WaitLine("tls: reloaded", time.Second)
	t.Logf("rotation log: %s", line)
	if got := presented(t, s.Addr(), pool); got.SerialNumber.Cmp(next.Cert.SerialNumber) != 0 {
		t.Fatalf("after SIGHUP a new connection got serial %x, want the new certificate's %x", got.SerialNumber, next.Cert.SerialNumber)
	}
	o1, _ := count()
	waitCount(o1 + 20)

	// A damaged key: refused, the rotated certificate stays.
	os.WriteFile(old.KeyFile, []byte("-----BEGIN PRIVATE KEY-----\ntruncated"), 0o600)
	failedReload := s.WatchLog("tls: reload failed; the certificate in use stays")
	s.Signal(syscall.SIGHUP)
	select {
	case <-failedReload:
	case <-time.After(30 * time.Second):
		t.Fatalf("no \"reload failed\" line after SIGHUP with a damaged key; last lines:\n%s", s.Tail(10))
	}
	if got := presented(t, s.Addr(), pool); got.SerialNumber.Cmp(next.Cert.SerialNumber) != 0 {
		t.Fatalf("after a failed reload a new connection got serial %x, want %x", got.SerialNumber, next.Cert.SerialNumber)
	}
	o2, _ := count()
	waitCount(o2 + 20)
	close(stop)
	wg.Wait()
	o, f := count()
	t.Logf("client loop through the rotation: %d requests succeeded, %d failed", o, f)
	if f != 0 {
		t.Fatalf("%d requests failed during the rotation; first: %v", f, firstErr)
	}

	// The expiry of the certificate in use, for the alert.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get(s.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf(`paramstore_tls_certificate_expiry_timestamp_seconds{cert="api"} %g`, float64(next.Cert.NotAfter.Unix()))
	if !strings.Contains(string(body), want) {
		t.Fatalf("/metrics lacks %q", want)
	}
}

// presented is the certificate a new TLS connection to addr gets.
func presented(t *testing.T, addr string, pool *x509.CertPool) *x509.Certificate {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}
