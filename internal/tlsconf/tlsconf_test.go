package tlsconf_test

import (
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paramstore/paramstore/internal/testpki"
	"github.com/paramstore/paramstore/internal/tlsconf"
)

// TestReload: a changed pair is noticed by the watcher and loaded; a
// damaged one is refused and the pair in use stays.
func TestReload(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	dir := t.TempDir()
	first := ca.IssueWith(t, testpki.Options{Dir: dir}, "first")
	k, err := tlsconf.LoadKeyPair(first.CertFile, first.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	w := tlsconf.NewWatcher(k, nil)
	if got := w.Changed(); len(got) != 0 {
		t.Fatalf("nothing changed, the watcher reports %d items", len(got))
	}
	next := ca.IssueWith(t, testpki.Options{NotAfter: time.Now().Add(72 * time.Hour).Truncate(time.Second)}, "next")
	for _, f := range [][2]string{{next.CertFile, first.CertFile}, {next.KeyFile, first.KeyFile}} {
		raw, _ := os.ReadFile(f[0])
		os.WriteFile(f[1]+".tmp", raw, 0o600)
		os.Rename(f[1]+".tmp", f[1])
	}
	changed := w.Changed()
	if len(changed) != 1 {
		t.Fatalf("after a rename, the watcher reports %d items, want 1", len(changed))
	}
	if err := changed[0].Reload(); err != nil {
		t.Fatal(err)
	}
	if got := k.Current().Leaf.Subject.CommonName; got != "next" {
		t.Fatalf("in use: %q, want next", got)
	}
	if !k.NotAfter().Equal(next.Cert.NotAfter) {
		t.Fatalf("NotAfter %v, want %v", k.NotAfter(), next.Cert.NotAfter)
	}
	// A key that no longer matches its certificate (written first).
	other := ca.Issue(t, "other")
	raw, _ := os.ReadFile(other.KeyFile)
	os.WriteFile(first.KeyFile, raw, 0o600)
	if err := k.Reload(); err == nil || !strings.Contains(err.Error(), first.CertFile) {
		t.Fatalf("a mismatched pair: got %v, want an error naming the file", err)
	}
	if got := k.Current().Leaf.Subject.CommonName; got != "next" {
		t.Fatalf("after a failed reload, in use: %q, want next", got)
	}
}

// TestPeerVerify: the peer configuration accepts a certificate of the peer
// CA and refuses one of another CA, naming the peer CA.
func TestPeerVerify(t *testing.T) {
	ca := testpki.NewCA(t, "peer")
	mine := ca.Issue(t, "n1", "127.0.0.1")
	p, err := tlsconf.LoadPeer(mine.CertFile, mine.KeyFile, ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.VerifyClient([]*x509.Certificate{mine.Cert}); err != nil {
		t.Fatalf("a certificate of the peer CA: %v", err)
	}
	rogue := testpki.NewCA(t, "rogue").Issue(t, "n4", "127.0.0.1")
	err = p.VerifyClient([]*x509.Certificate{rogue.Cert})
	if err == nil || !strings.Contains(err.Error(), "not signed by the peer CA") {
		t.Fatalf("a certificate of another CA: got %v", err)
	}
	if err := p.VerifyClient(nil); err == nil {
		t.Fatal("no certificate: accepted")
	}
}
