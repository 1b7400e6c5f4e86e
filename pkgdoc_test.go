// Package paramstore holds tests about the repository as a whole; the
// code is in cmd/, internal/, client/ and bench/.
package paramstore

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs: every package says what it is for in a package doc
// comment (tailscale's pkgdoc_test.go). A package whose only Go files are
// tests (the end-to-end suites) has it in one of them.
func TestPackageDocs(t *testing.T) {
	// pkgs holds the Go files of each directory.
	type pkg struct{ files, tests []string }
	pkgs := map[string]*pkg{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		dir := filepath.Dir(path)
		p := pkgs[dir]
		if p == nil {
			p = &pkg{}
			pkgs[dir] = p
		}
		if strings.HasSuffix(name, "_test.go") {
			p.tests = append(p.tests, path)
		} else {
			p.files = append(p.files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 20 {
		t.Fatalf("found %d packages; is the test running at the module root?", len(pkgs))
	}
	fset := token.NewFileSet()
	for dir, p := range pkgs {
		files := p.files
		if len(files) == 0 {
			files = p.tests
		}
		documented := false
		for _, path := range files {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parser.ParseFile(fset, path, src, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
				documented = true
				break
			}
		}
		if !documented {
			t.Errorf("package in %s has no package doc comment (// Package name ... or // Command name ...)", dir)
		}
	}
}
