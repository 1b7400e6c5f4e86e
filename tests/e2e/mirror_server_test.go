package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/testproc"
)

// mirrorStatus is one entry of /readyz's "mirrors".
type mirrorStatus struct {
	Name        string     `json:"name"`
	Running     bool       `json:"running"`
	LastSuccess *time.Time `json:"last_success"`
	LastError   string     `json:"last_error"`
	Stale       bool       `json:"stale"`
	Drift       int        `json:"drift"`
	Parameters  int        `json:"parameters"`
	Syncs       int        `json:"syncs"`
	Errors      int        `json:"errors"`
	SourceCalls int        `json:"source_calls"`
}

// serverIncident is an entry of `paramstore incidents list --json`.
type serverIncident struct {
	ID    string     `json:"id"`
	Kind  string     `json:"kind"`
	Ended *time.Time `json:"ended"`
}

// readyzMirrors returns /readyz's status code and its mirrors.
func readyzMirrors(t *testing.T, url string) (int, []mirrorStatus, string) {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Mirrors []mirrorStatus `json:"mirrors"`
	}
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatalf("/readyz: %v", err)
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("/readyz: %v: %s", err, raw)
	}
	return resp.StatusCode, body.Mirrors, string(raw)
}

// metricValue returns the value of the series named exactly series
// (name{labels}) at url's /metrics, and whether it is there.
func metricValue(t *testing.T, url, series string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// writeMirrorConfig writes a --mirror-config of one mirror "moto" of /m
// from endpoint, with the source's credentials in a file.
func writeMirrorConfig(t *testing.T, endpoint string) string {
	t.Helper()
	dir := t.TempDir()
	creds := filepath.Join(dir, "moto-credentials")
	if err := os.WriteFile(creds, []byte("[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "mirrors.yaml")
	body := fmt.Sprintf(`mirrors:
  - name: moto
    source:
      endpoint: %s
      region: us-east-1
      credentials: {file: %s}
    paths: [/m]
    interval: 1s
    stale_after: 3
    full_every: 2
    rate: 50
`, endpoint, creds)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestServerMirrorFromMoto runs `paramstore server --mirror-config` with a
// mirror of moto_server (AWS SSM's stand-in) behind a proxy that can cut it
// off: create, update, label, tag and delete at the source reach the store
// by themselves; the writes are the mirror's (LastModifiedUser, audit
// trail); /readyz and /metrics show the last sync and drift; the source cut
// off makes the mirror stale (readiness unaffected) and opens an incident,
// which closes once the source is back and a sync succeeds.
func TestServerMirrorFromMoto(t *testing.T) {
	ctx := context.Background()
	moto := startMoto(t)
	th := newThrottler(t, moto)
	dataDir := t.TempDir()
	srv := testproc.StartServer(t, testproc.ServerConfig{DataDir: dataDir, Args: []string{"--mirror-config", writeMirrorConfig(t, th.URL)},
		Env: testproc.Env("AWS_CONFIG_FILE=/nonexistent", "AWS_EC2_METADATA_DISABLED=true")})
	src := ssm.New(ssm.Options{Region: "us-east-1", BaseEndpoint: aws.String(moto), Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	dst := srv.SSM()

	// waitSyncs waits for the mirror to converge: at least three syncs
	// after now (full_every: 2, so one of the last two re-reads every tag
	// and label), the last of them successful and finding nothing left to
	// correct. A sync in flight when the source changed may see only part
	// of the change and the next incremental one may leave a label for the
	// full sync after it, so a count alone is not convergence on a slow
	// machine.
	waitSyncs := func(what string) mirrorStatus {
		t.Helper()
		_, ms, _ := readyzMirrors(t, srv.URL())
		if len(ms) != 1 {
			t.Fatalf("/readyz mirrors: %+v", ms)
		}
		from := ms[0].Syncs
		deadline := time.Now().Add(2 * time.Minute)
		for {
			_, ms, raw := readyzMirrors(t, srv.URL())
			if m := ms[0]; m.Syncs >= from+3 && m.LastError == "" && m.LastSuccess != nil && m.Drift == 0 {
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the mirror did not converge in 2 minutes: %s", what, raw)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	check := func(when string) {
		t.Helper()
		if d := diffSnapshots(snapshot(t, src, "/m"), snapshot(t, dst, "/m")); len(d) > 0 {
			t.Errorf("%s: the target differs:\n%s", when, strings.Join(d, "\n"))
		}
	}
	tag := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	must(src.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/m/url"), Type: types.ParameterTypeString, Value: aws.String("https://v1"),
		Description: aws.String("the url"), Tags: []types.Tag{tag("team", "core")}}))
	must(src.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/m/password"), Type: types.ParameterTypeSecureString, Value: aws.String("MIRROR-SERVER-SECRET")}))
	must(src.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/m/old"), Type: types.ParameterTypeString, Value: aws.String("to be deleted")}))
	must(src.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/m/url"), Labels: []string{"prod"}}))
	st := waitSyncs("create")
	check("after create")
	t.Logf("MIRROR IN SERVER after create: parameters=%d drift(last sync)=%d syncs=%d source_calls=%d", st.Parameters, st.Drift, st.Syncs, st.SourceCalls)
	if st.Parameters != 3 || st.Drift != 0 || !st.Running || st.Stale {
		t.Errorf("status after the create synced: %+v", st)
	}
	// The writes are the mirror's, through the replicated, audited path.
	d, err := dst.DescribeParameters(ctx, &ssm.DescribeParametersInput{})
	if err != nil || len(d.Parameters) != 3 {
		t.Fatalf("describe: %v %+v", err, d)
	}
	for _, p := range d.Parameters {
		if u := aws.ToString(p.LastModifiedUser); u != "arn:aws:iam::123456789012:user/paramstore/mirror/moto" {
			t.Errorf("%s: LastModifiedUser %q, want the mirror's identity", aws.ToString(p.Name), u)
		}
	}
	trail, err := os.ReadFile(filepath.Join(dataDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(trail), `"userIdentity":{"type":"ParamstoreInternal","principalId":"mirror/moto"`) {
		t.Errorf("no audit record names the mirror")
	}
	if strings.Contains(string(trail), "MIRROR-SERVER-SECRET") {
		t.Errorf("the audit trail holds a SecureString's plaintext")
	}

	// Update, label, tag and delete at the source.
	before := time.Now()
	must(src.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/m/url"), Type: types.ParameterTypeString, Value: aws.String("https://v2"),
		Description: aws.String("the url"), Overwrite: aws.Bool(true)}))
	must(src.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/m/url"), Labels: []string{"next"}}))
	must(src.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: aws.String("/m/password"),
		Tags: []types.Tag{tag("rotate", "monthly")}}))
	must(src.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/m/old")}))
	st = waitSyncs("update/label/tag/delete")
	check("after update, label, tag and delete")
	if g, err := dst.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/m/password"), WithDecryption: aws.Bool(true)}); err != nil ||
		aws.ToString(g.Parameter.Value) != "MIRROR-SERVER-SECRET" {
		t.Errorf("SecureString at the target: %v", err)
	}
	var drifts []string
	for _, l := range strings.Split(srv.Output(), "\n") {
		if strings.Contains(l, "mirror synced") {
			drifts = append(drifts, l[strings.Index(l, "source="):])
		}
	}
	t.Logf("MIRROR IN SERVER syncs that found drift (logged at info):\n%s", strings.Join(drifts, "\n"))
	if len(drifts) < 2 || !strings.Contains(strings.Join(drifts[1:], " "), "deleted=1") || !strings.Contains(strings.Join(drifts[1:], " "), "tagged=1") {
		t.Errorf("the syncs after the update/label/tag/delete: want a delete and a tag, logged: %v", drifts)
	}
	code, ms, raw := readyzMirrors(t, srv.URL())
	t.Logf("MIRROR IN SERVER /readyz: %d %s", code, raw)
	if ms[0].LastSuccess.Before(before) || ms[0].Drift != 0 || ms[0].Parameters != 2 {
		t.Errorf("/readyz mirror after the changes synced: %+v", ms[0])
	}
	for _, s := range []string{"last_success_timestamp_seconds", "source_calls_total", "syncs_total", "drift_parameters", "stale", "errors_total", "running"} {
		v, ok := metricValue(t, srv.URL(), `paramstore_mirror_`+s+`{mirror="moto"}`)
		t.Logf("METRIC paramstore_mirror_%s{mirror=\"moto\"} %g", s, v)
		if !ok {
			t.Errorf("no metric paramstore_mirror_%s", s)
		}
	}
	if v, _ := metricValue(t, srv.URL(), `paramstore_mirror_last_success_timestamp_seconds{mirror="moto"}`); v < float64(before.Unix()) {
		t.Errorf("last success %g, before the changes %d", v, before.Unix())
	}
	if v, _ := metricValue(t, srv.URL(), `paramstore_mirror_source_calls_total{mirror="moto"}`); v < float64(st.SourceCalls) || v == 0 {
		t.Errorf("source calls %g", v)
	}

	// Something keeps changing the copy: each sync finds drift, and at
	// drift_syncs (3) in a row a mirror-drift incident opens; it closes
	// once a sync finds none.
	kindIncidents := func(kind string) []serverIncident {
		t.Helper()
		out, err := testproc.Command(t, "incidents", "list", "--json", "--endpoint", srv.URL(), "--credentials-file", srv.CredentialsFile()).Output()
		if err != nil {
			t.Fatalf("incidents list: %v", err)
		}
		var list struct{ Incidents []serverIncident }
		if err := json.Unmarshal(out, &list); err != nil {
			t.Fatal(err)
		}
		var mine []serverIncident
		for _, inc := range list.Incidents { // newest first
			if inc.Kind == kind {
				mine = append(mine, inc)
			}
		}
		return mine
	}
	stopWriter := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-stopWriter:
				return
			case <-time.After(200 * time.Millisecond):
			}
			dst.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/m/url"), Type: types.ParameterTypeString,
				Value: aws.String(fmt.Sprintf("tampered-%d", i)), Overwrite: aws.Bool(true)})
		}
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for len(kindIncidents("mirror-drift")) == 0 {
		if time.Now().After(deadline) {
			close(stopWriter)
			_, _, raw := readyzMirrors(t, srv.URL())
			t.Fatalf("no mirror-drift incident after 2 minutes of writes at the target: %s", raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
	close(stopWriter)
	<-writerDone
	for deadline = time.Now().Add(2 * time.Minute); ; {
		if incs := kindIncidents("mirror-drift"); len(incs) == 1 && incs[0].Ended != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mirror-drift incident did not close once the writes stopped")
		}
		time.Sleep(200 * time.Millisecond)
	}
	drift := kindIncidents("mirror-drift")[0]
	report, err := testproc.Command(t, "incidents", "report", drift.ID, "--endpoint", srv.URL(), "--credentials-file", srv.CredentialsFile()).Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MIRROR DRIFT INCIDENT REPORT (timeline):\n%s", report[strings.Index(string(report), "## Timeline"):strings.Index(string(report), "## What kept")])
	if !strings.Contains(string(report), "drift found at 3 consecutive syncs") {
		t.Errorf("the drift report lacks its cause")
	}
	waitSyncs("after the drift")
	check("after the drift")

	// The source goes away: stale, an incident, readiness unaffected. (A
	// sync slowed by a loaded machine may have made the mirror stale for a
	// moment already: only the incidents from now on count.)
	incidentsBefore := 0
	incidents := func() []serverIncident { return kindIncidents("mirror-stale") }
	waitSyncs("before the source goes away")
	incidentsBefore = len(incidents())
	errorsBefore, _ := metricValue(t, srv.URL(), `paramstore_mirror_errors_total{mirror="moto"}`)
	th.setDown(true)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				_, _, raw := readyzMirrors(t, srv.URL())
				t.Fatalf("%s: not after 2 minutes; /readyz %s", what, raw)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor("an open mirror-stale incident", func() bool {
		incs := incidents()
		return len(incs) == incidentsBefore+1 && incs[0].Ended == nil
	})
	code, ms, raw = readyzMirrors(t, srv.URL())
	t.Logf("MIRROR IN SERVER /readyz with the source cut off: %d %s", code, raw)
	if code != http.StatusOK || !ms[0].Stale {
		t.Errorf("/readyz with a stale mirror: %d %+v (want 200 and stale)", code, ms[0])
	}
	if v, _ := metricValue(t, srv.URL(), `paramstore_mirror_stale{mirror="moto"}`); v != 1 {
		t.Errorf("paramstore_mirror_stale %g, want 1", v)
	}
	// A sync gives up (its deadline) and counts as an error.
	waitFor("a failed sync", func() bool {
		v, _ := metricValue(t, srv.URL(), `paramstore_mirror_errors_total{mirror="moto"}`)
		return v > errorsBefore
	})
	// A change made at the source meanwhile arrives once it is back.
	must(src.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/m/url"), Type: types.ParameterTypeString, Value: aws.String("https://v3"),
		Description: aws.String("the url"), Overwrite: aws.Bool(true)}))
	th.setDown(false)
	waitFor("the incident closed", func() bool {
		incs := incidents()
		return len(incs) == incidentsBefore+1 && incs[0].Ended != nil
	})
	inc := incidents()[0]
	report, err = testproc.Command(t, "incidents", "report", inc.ID, "--endpoint", srv.URL(), "--credentials-file", srv.CredentialsFile()).Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MIRROR STALE INCIDENT REPORT:\n%s", report)
	for _, ev := range []string{"mirror moto stale", "mirror moto sync failed", "mirror moto synced"} {
		if !strings.Contains(string(report), ev) {
			t.Errorf("the report lacks %q", ev)
		}
	}
	waitSyncs("after the source returned")
	check("after the source returned")
}

// TestServerMirrorConfigRefused: a --mirror-config that cannot be used
// stops the server at start with exit code 1 and the member named, and
// never repeats a secret written in it.
func TestServerMirrorConfigRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, body, want string }{
		{"inline secret", "mirrors:\n  - name: a\n    source: {endpoint: 'http://127.0.0.1:1', credentials: {secret_access_key: INLINE-SECRET-9}}\n    paths: [/a]\n",
			"mirrors[0].source.credentials.secret_access_key: a secret is never written in the mirror config"},
		{"missing credentials file", "mirrors:\n  - name: a\n    source: {endpoint: 'http://127.0.0.1:1', credentials: {file: /nonexistent/creds}}\n    paths: [/a]\n",
			`mirror "a": source.credentials.file: stat /nonexistent/creds: no such file or directory`},
		{"bad path", "mirrors:\n  - name: a\n    source: {region: us-east-1}\n    paths: [app]\n", `mirrors[0].paths[0]: "app": want an absolute path`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			if err := os.WriteFile(cfg, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			srv := startServerOrExit(t, t.TempDir(), "--mirror-config", cfg)
			if !srv.Exited() || srv.ExitCode() != 1 {
				t.Fatalf("server with %s: exited %v code %d, want exit 1", tc.name, srv.Exited(), srv.ExitCode())
			}
			out := srv.Output()
			if !strings.Contains(out, tc.want) || strings.Contains(out, "INLINE-SECRET-9") {
				t.Errorf("output, want %q and no secret:\n%s", tc.want, out)
			}
		})
	}
}
