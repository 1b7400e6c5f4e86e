package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/paramstore/paramstore/client"
)

func TestEnvName(t *testing.T) {
	tests := []struct{ path, name, want string }{
		{"/app/prod", "/app/prod/db-url", "DB_URL"},
		{"/app/prod/", "/app/prod/db-url", "DB_URL"},
		{"/app/prod", "/app/prod/db/host.name", "DB_HOST_NAME"},
		{"/app/prod", "/app/prod/Mixed_Case", "MIXED_CASE"},
		{"/app", "/other/x", "OTHER_X"},
		{"/", "/top-level", "TOP_LEVEL"},
	}
	for _, tc := range tests {
		if got := EnvName(tc.path, tc.name); got != tc.want {
			t.Errorf("EnvName(%q, %q): got %q, want %q", tc.path, tc.name, got, tc.want)
		}
	}
}

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		in      string
		want    Template
		wantErr bool
	}{
		{in: "a.tmpl:/etc/a.conf", want: Template{Source: "a.tmpl", Dest: "/etc/a.conf"}},
		{in: "a.tmpl:a.conf:systemctl reload nginx", want: Template{Source: "a.tmpl", Dest: "a.conf", Reload: []string{"systemctl", "reload", "nginx"}}},
		{in: "a:b:curl http://x:1/reload", want: Template{Source: "a", Dest: "b", Reload: []string{"curl", "http://x:1/reload"}}},
		{in: "a.tmpl", wantErr: true},
		{in: ":b", wantErr: true},
	}
	for _, tc := range tests {
		got, err := ParseTemplate(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseTemplate(%q): error %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if got.Source != tc.want.Source || got.Dest != tc.want.Dest || !slices.Equal(got.Reload, tc.want.Reload) {
			t.Errorf("ParseTemplate(%q): got %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

const testTemplate = `url={{ param "/app/url" }}
pass={{ secret "/app/pass" }}
{{ range params "/app/prod" }}{{ .Key }}={{ .Value }}
{{ end }}`

func writeTemplate(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "app.tmpl")
	if err := os.WriteFile(p, []byte(testTemplate), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRenderOnce(t *testing.T) {
	src := newFakeSource()
	seedLambda(src)
	src.put("/app/prod/db-url", "String", "postgres://db")
	dir := t.TempDir()
	dest := filepath.Join(dir, "out", "app.conf")
	os.Mkdir(filepath.Dir(dest), 0o700)
	marker := filepath.Join(dir, "reloaded")
	r, err := NewRenderer(RendererConfig{
		Source:   src,
		Template: Template{Source: writeTemplate(t, dir), Dest: dest, Reload: []string{"touch", marker}},
	})
	if err != nil {
		t.Fatal(err)
	}
	changed, err := r.Render(context.Background())
	if err != nil || !changed {
		t.Fatalf("first render: changed %v, err %v; want true, nil", changed, err)
	}
	got, _ := os.ReadFile(dest)
	want := "url=https://v3\npass=hunter2\nDB_URL=postgres://db\n"
	if string(got) != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", got, want)
	}
	info, err := os.Stat(dest)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("dest mode: %v %v, want 0600", info.Mode(), err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("reload command (touch, run without a shell) did not run: %v", err)
	}
	os.Remove(marker)
	if changed, err := r.Render(context.Background()); err != nil || changed {
		t.Errorf("second render with the same values: changed %v, err %v; want false, nil", changed, err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("reload command ran although the output did not change")
	}
	entries, _ := os.ReadDir(filepath.Dir(dest))
	if len(entries) != 1 {
		t.Errorf("output directory holds %d files, want only the output (no temporary files left)", len(entries))
	}

	src.setDown(true)
	if _, err := r.Render(context.Background()); err == nil {
		t.Errorf("render with the source down: got no error")
	}
	if got2, _ := os.ReadFile(dest); string(got2) != want {
		t.Errorf("a failed render changed the output")
	}
}

// TestRendererRun checks that Run re-renders on a watched change and runs
// the reload command only when the output changed.
func TestRendererRun(t *testing.T) {
	src := newFakeSource()
	seedLambda(src)
	src.put("/app/prod/db-url", "String", "postgres://db")
	src.watchStart = make(chan string, 8)
	dir := t.TempDir()
	dest := filepath.Join(dir, "app.conf")
	var mu sync.Mutex
	var reloads []string // output at each reload
	reloaded := make(chan struct{}, 8)
	r, err := NewRenderer(RendererConfig{
		Source:   src,
		Template: Template{Source: writeTemplate(t, dir), Dest: dest, Reload: []string{"reload-app"}},
		RunCommand: func(ctx context.Context, argv []string) ([]byte, error) {
			b, _ := os.ReadFile(dest)
			mu.Lock()
			reloads = append(reloads, string(b))
			mu.Unlock()
			reloaded <- struct{}{}
			return nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	<-reloaded
	// The template reads /app/url, /app/pass and /app/prod: one watch on /app.
	if p := <-src.watchStart; p != "/app" {
		t.Errorf("watched %q, want /app", p)
	}
	// A change that does not alter the output re-renders without reload; a
	// change of an unrelated name is ignored; then a real change reloads.
	src.announce(client.Change{Name: "/app/other", Version: 1})
	src.announce(client.Change{Name: "/app/url", Version: 3})
	src.put("/app/prod/db-url", "String", "postgres://db2")
	src.announce(client.Change{Name: "/app/prod/db-url", Version: 2})
	<-reloaded
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reloads) != 2 {
		t.Fatalf("reloads: got %d, want 2 (first render, changed value)", len(reloads))
	}
	if !strings.Contains(reloads[1], "DB_URL=postgres://db2") {
		t.Errorf("second reload saw:\n%s", reloads[1])
	}
	// The reload may come from the re-render after /app/url's change (which
	// already sees the new db-url) before db-url's own change is handled, so
	// only the unrelated name is checked.
	if inv := src.invalidations(); slices.Contains(inv, "/app/other") {
		t.Errorf("invalidated %q: want no invalidation of /app/other", inv)
	}
}
