package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/testproc"
)

const transferTimeout = 5 * time.Minute

// paramstoreCLI runs a client-side subcommand against srv with its root key.
func transferCLI(t *testing.T, srv *testproc.Server, args ...string) string {
	t.Helper()
	env := srv.Credentials().Env(t)
	code, out := testproc.RunToExit(t, transferTimeout, env, append(args, "--endpoint", srv.URL())...)
	if code != 0 {
		t.Fatalf("paramstore %s: exit %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// exportJSON exports path from srv as the json format, normalized for a
// comparison between stores (export time, source, modification dates).
func exportJSON(t *testing.T, srv *testproc.Server, file, path string, extra ...string) map[string]any {
	t.Helper()
	transferCLI(t, srv, append([]string{"export", "--path", path, "--with-decryption", "--out", file}, extra...)...)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	delete(f, "exported")
	delete(f, "source")
	for _, p := range f["parameters"].([]any) {
		delete(p.(map[string]any), "last_modified")
	}
	return f
}

// TestExportImportRoundTrip: export (json, decrypted, with history) from
// one server, import into a fresh one: every attribute equal; a second
// import writes nothing; a dry run prints the plan as a diff.
func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	a := startServer(t, t.TempDir(), "--no-audit")
	b := startServer(t, t.TempDir(), "--no-audit")
	sa := a.SSM()
	put := func(in *ssm.PutParameterInput) {
		t.Helper()
		if _, err := sa.PutParameter(ctx, in); err != nil {
			t.Fatalf("put %s: %v", aws.ToString(in.Name), err)
		}
	}
	put(&ssm.PutParameterInput{Name: aws.String("/rt/db/url"), Type: types.ParameterTypeString, Value: aws.String("postgres://a"),
		Description: aws.String("the database"), AllowedPattern: aws.String("^postgres://.*$"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("core")}, {Key: aws.String("env"), Value: aws.String("prod")}}})
	put(&ssm.PutParameterInput{Name: aws.String("/rt/db/url"), Type: types.ParameterTypeString, Value: aws.String("postgres://b"),
		Description: aws.String("the database"), AllowedPattern: aws.String("^postgres://.*$"), Overwrite: aws.Bool(true)})
	put(&ssm.PutParameterInput{Name: aws.String("/rt/db/password"), Type: types.ParameterTypeSecureString, Value: aws.String("S3CRET-MARKER")})
	put(&ssm.PutParameterInput{Name: aws.String("/rt/hosts"), Type: types.ParameterTypeStringList, Value: aws.String("a,b")})
	put(&ssm.PutParameterInput{Name: aws.String("/rt/adv"), Type: types.ParameterTypeString, Value: aws.String("big"), Tier: types.ParameterTierAdvanced,
		Policies: aws.String(`[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2099-01-01T00:00:00.000Z"}}]`)})
	if _, err := sa.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/rt/db/url"), ParameterVersion: aws.Int64(1), Labels: []string{"old"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sa.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/rt/db/url"), ParameterVersion: aws.Int64(2), Labels: []string{"prod", "live"}}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "export.json")
	want := exportJSON(t, a, file, "/rt", "--history")
	out := transferCLI(t, b, "import", file)
	if !strings.Contains(out, "import: 4 created, 0 updated, 0 unchanged, 0 skipped") {
		t.Errorf("first import: %s", out)
	}
	got := exportJSON(t, b, filepath.Join(dir, "b.json"), "/rt", "--history")
	gotJSON, _ := json.MarshalIndent(got, "", " ")
	wantJSON, _ := json.MarshalIndent(want, "", " ")
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("after import, the target exports\n%s\nwant (the source's)\n%s", gotJSON, wantJSON)
	}
	for _, attr := range []string{`"tier": "Advanced"`, `"allowed_pattern"`, `"policies"`, `"team": "core"`, `"prod"`, `"old"`, `"history"`} {
		if !strings.Contains(string(wantJSON), attr) {
			t.Errorf("the export lacks %s", attr)
		}
	}

	// Idempotent: nothing written the second time.
	out = transferCLI(t, b, "import", file)
	if !strings.Contains(out, "import: 0 created, 0 updated, 4 unchanged, 0 skipped") {
		t.Errorf("second import: %s", out)
	}
	again := exportJSON(t, b, filepath.Join(dir, "b2.json"), "/rt", "--history")
	if againJSON, _ := json.MarshalIndent(again, "", " "); string(againJSON) != string(gotJSON) {
		t.Errorf("a second import changed the target:\n%s", againJSON)
	}

	// A change at the source: the dry run shows it as a diff and writes nothing.
	put(&ssm.PutParameterInput{Name: aws.String("/rt/hosts"), Type: types.ParameterTypeStringList, Value: aws.String("a,b,c"), Overwrite: aws.Bool(true)})
	put(&ssm.PutParameterInput{Name: aws.String("/rt/db/password"), Type: types.ParameterTypeSecureString, Value: aws.String("S3CRET-MARKER-2"), Overwrite: aws.Bool(true)})
	exportJSON(t, a, file, "/rt")
	out = transferCLI(t, b, "import", file, "--dry-run", "--overwrite")
	for _, want := range []string{`- /rt/hosts (StringList) = "a,b"`, `+ /rt/hosts (StringList) = "a,b,c"`, "+ /rt/db/password (SecureString) = (secure)", "plan: 0 to create, 2 to update, 2 unchanged, 0 skipped"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "S3CRET-MARKER") {
		t.Error("dry run printed a SecureString value")
	}
	out = transferCLI(t, b, "import", file)
	if !strings.Contains(out, "! /rt/hosts: exists with another value (use --overwrite)") {
		t.Errorf("import without --overwrite: %s", out)
	}
	out = transferCLI(t, b, "import", file, "--overwrite")
	if !strings.Contains(out, "import: 0 created, 2 updated, 2 unchanged, 0 skipped") {
		t.Errorf("import --overwrite: %s", out)
	}
}

// TestExportImportChamber: dotenv and yaml as chamber writes them are
// imported under --path, and exported back in the same shapes.
func TestExportImportChamber(t *testing.T) {
	srv := startServer(t, t.TempDir(), "--no-audit")
	for _, f := range []string{"myservice.env", "myservice.yaml"} {
		path := "/chamber/" + strings.ReplaceAll(f, ".", "-")
		transferCLI(t, srv, "import", filepath.Join("testdata", "chamber", f), "--path", path)
		for k, v := range map[string]string{"api_key": `abc"123`, "db_host": "db.internal", "multi_line": "line1\nline2"} {
			got, err := srv.SSM().GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(path + "/" + k), WithDecryption: aws.Bool(true)})
			if err != nil {
				t.Fatalf("%s: get %s: %v", f, k, err)
			}
			if aws.ToString(got.Parameter.Value) != v || got.Parameter.Type != types.ParameterTypeSecureString {
				t.Errorf("%s: %s = %q (%s), want %q SecureString", f, k, aws.ToString(got.Parameter.Value), got.Parameter.Type, v)
			}
		}
	}
	env := transferCLI(t, srv, "export", "--path", "/chamber/myservice-env", "--format", "dotenv")
	if want := "API_KEY=\"abc\\\"123\"\nDB_HOST=\"db.internal\"\nMULTI_LINE=\"line1\\nline2\"\n"; !strings.HasSuffix(env, want) {
		t.Errorf("dotenv export:\n%s\nwant\n%s", env, want)
	}
	y := transferCLI(t, srv, "export", "--path", "/chamber/myservice-yaml", "--format", "yaml")
	if !strings.Contains(y, "db_host: db.internal") {
		t.Errorf("yaml export:\n%s", y)
	}
}

// TestExportImport1000 moves 1,000 parameters between two servers and
// logs the time and the progress output (not asserted: shared machines).
func TestExportImport1000(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	ctx := context.Background()
	a := startServer(t, t.TempDir(), "--no-audit")
	b := startServer(t, t.TempDir(), "--no-audit")
	sa := a.SSM()
	for i := range 1000 {
		typ := types.ParameterTypeString
		if i%5 == 0 {
			typ = types.ParameterTypeSecureString
		}
		if _, err := sa.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(fmt.Sprintf("/bulk/svc%02d/p%04d", i%20, i)), Type: typ,
			Value: aws.String(fmt.Sprintf("value-%d", i)), Description: aws.String("bulk")}); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(t.TempDir(), "bulk.json")
	start := time.Now()
	transferCLI(t, a, "export", "--path", "/bulk", "--with-decryption", "--out", file)
	exported := time.Since(start)
	start = time.Now()
	out := transferCLI(t, b, "import", file)
	imported := time.Since(start)
	if !strings.Contains(out, "import: 1000 created") || !strings.Contains(out, "import 1000/1000") {
		t.Fatalf("import: %s", out)
	}
	start = time.Now()
	out = transferCLI(t, b, "import", file)
	again := time.Since(start)
	if !strings.Contains(out, "import: 0 created, 0 updated, 1000 unchanged") {
		t.Errorf("second import: %s", out)
	}
	t.Logf("ROUND TRIP 1000: export %v, import %v, idempotent re-import %v", exported.Round(time.Millisecond), imported.Round(time.Millisecond), again.Round(time.Millisecond))
}
