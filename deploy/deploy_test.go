// Package deploy_test checks what deploy/ ships: the Prometheus alert rules
// (promtool check rules and their unit tests), the runbook links, the
// Grafana dashboard, and that every metric they use is one the code exports.
package deploy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// promtool returns the path of promtool, skipping the test when it is
// absent outside CI (CI installs the Debian package prometheus).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is required in CI (Debian package prometheus; .ci/run installs it)")
		}
		t.Skip("promtool not installed (apt-get install prometheus); CI runs this test")
	}
	return p
}

func TestAlertRules(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = "prometheus"
		out, err := cmd.CombinedOutput()
		t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
		if err != nil {
			t.Errorf("promtool %s: %v", strings.Join(args, " "), err)
		}
	}
}

var metricRE = regexp.MustCompile(`paramstore_[a-z_]+`)

// TestMetricsExported: every paramstore_* series the rules and the
// dashboard read is registered somewhere in the code.
func TestMetricsExported(t *testing.T) {
	var code strings.Builder
	for _, dir := range []string{"../internal", "../client", "../cmd"} {
		filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
				b, _ := os.ReadFile(path)
				code.Write(b)
			}
			return nil
		})
	}
	for _, f := range []string{"prometheus/alerts.yml", "grafana/paramstore.json"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metricRE.FindAllString(string(raw), -1) {
			name := m
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				name = strings.TrimSuffix(name, suf)
			}
			if !strings.Contains(code.String(), `"`+name+`"`) {
				t.Errorf("%s uses %s, which no code exports", f, m)
			}
		}
	}
}

// TestRunbookLinks: every alert links a runbook section that exists.
func TestRunbookLinks(t *testing.T) {
	rules, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	book, err := os.ReadFile("../docs/runbook.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## (\S+)$`).FindAllStringSubmatch(string(book), -1) {
		anchors[strings.ToLower(m[1])] = true
	}
	alerts := regexp.MustCompile(`(?m)^\s+- alert: (\S+)$`).FindAllStringSubmatch(string(rules), -1)
	links := regexp.MustCompile(`runbook_url: "[^"#]+/docs/runbook\.md#([a-z0-9-]+)"`).FindAllStringSubmatch(string(rules), -1)
	if len(alerts) == 0 || len(alerts) != len(links) {
		t.Fatalf("%d alerts, %d runbook links: want one each", len(alerts), len(links))
	}
	for i, a := range alerts {
		if want := strings.ToLower(a[1]); links[i][1] != want || !anchors[want] {
			t.Errorf("alert %s: runbook link #%s, section present %v; want #%s", a[1], links[i][1], anchors[want], want)
		}
	}
}

// TestGrafanaDashboard lints the dashboard: valid JSON, a uid and title,
// unique panel ids, each panel placed on the 24-column grid with a query.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("grafana/paramstore.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID, Title string
		Panels     []struct {
			ID      int
			Type    string
			Title   string
			GridPos struct{ X, Y, W, H int }
			Targets []struct{ RefID, Expr string }
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("grafana/paramstore.json: %v", err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard: uid %q title %q %d panels", d.UID, d.Title, len(d.Panels))
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Title == "" || p.Type == "" || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %d %q: type %q grid %+v", p.ID, p.Title, p.Type, p.GridPos)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %d %q has no query", p.ID, p.Title)
		}
		for _, tg := range p.Targets {
			if tg.RefID == "" || tg.Expr == "" || strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") {
				t.Errorf("panel %d %q: query %+v", p.ID, p.Title, tg)
			}
		}
	}
}
