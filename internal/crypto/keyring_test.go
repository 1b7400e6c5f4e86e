package crypto

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testKeyring(t *testing.T, seed byte) *Keyring {
	t.Helper()
	k, err := New(bytes.Repeat([]byte{seed}, keySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestNewRejectsBadMasterLength(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New accepted a %d-byte master key", n)
		}
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	kr := testKeyring(t, 1)
	kek, err := kr.DefaultKEK("123456789012:us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	aad := []byte("123456789012:us-east-1\x00/a/b")
	for _, pt := range []string{"", "v", "multi\nline", "ünïcödé ✓", strings.Repeat("x", 32768), "\x00\xff"} {
		env, err := Seal(kek, pt, aad)
		if err != nil {
			t.Fatal(err)
		}
		if len(pt) > 3 && strings.Contains(env, pt) {
			t.Fatalf("envelope contains the plaintext")
		}
		got, err := Open(kek, env, aad)
		if err != nil {
			t.Fatalf("Open(%.20q): %v", pt, err)
		}
		if got != pt {
			t.Fatalf("got %.20q, want %.20q", got, pt)
		}
		if id, err := EnvelopeKeyID(env); err != nil || id != DefaultKeyID {
			t.Fatalf("EnvelopeKeyID = %q, %v; want %q", id, err, DefaultKeyID)
		}
	}
	// Fresh data keys and nonces: sealing twice gives different envelopes.
	a, _ := Seal(kek, "same", aad)
	b, _ := Seal(kek, "same", aad)
	if a == b {
		t.Fatal("two seals of the same value are identical")
	}
}

func TestOpenFailures(t *testing.T) {
	kr := testKeyring(t, 1)
	const tenancy = "123456789012:us-east-1"
	kek, _ := kr.DefaultKEK(tenancy)
	aad := []byte(tenancy + "\x00/a/b")
	env, err := Seal(kek, "secret value", aad)
	if err != nil {
		t.Fatal(err)
	}

	otherTenancy, _ := kr.DefaultKEK("123456789012:eu-west-1")
	otherMaster, _ := testKeyring(t, 2).DefaultKEK(tenancy)
	tests := []struct {
		name string
		kek  *KEK
		env  string
		aad  []byte
		want error
	}{
		{"other parameter", kek, env, []byte(tenancy + "\x00/a/c"), ErrDecrypt},
		{"empty aad", kek, env, nil, ErrDecrypt},
		{"other tenancy's key", otherTenancy, env, aad, ErrDecrypt},
		{"other master key", otherMaster, env, aad, ErrDecrypt},
		{"not base64", kek, "!!!", aad, ErrEnvelope},
		{"empty", kek, "", aad, ErrEnvelope},
		{"truncated", kek, env[:len(env)/2], aad, nil},
		{"wrong version", kek, reencode(env, func(b []byte) { b[0] = 2 }), aad, ErrEnvelope},
		{"key id length past end", kek, reencode(env, func(b []byte) { b[1] = 255 }), aad, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Open(tc.kek, tc.env, tc.aad)
			if err == nil {
				t.Fatalf("Open succeeded with %q", got)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret value") {
				t.Fatalf("error %q reveals the plaintext", err)
			}
		})
	}

	// Flipping any single bit of the envelope makes it fail.
	raw, _ := base64.StdEncoding.DecodeString(env)
	for i := range raw {
		for _, bit := range []byte{0x01, 0x80} {
			b := bytes.Clone(raw)
			b[i] ^= bit
			if got, err := Open(kek, base64.StdEncoding.EncodeToString(b), aad); err == nil {
				t.Fatalf("tampered byte %d (bit %#x) opened as %q", i, bit, got)
			}
		}
	}
	// Appending or removing bytes fails too.
	for _, b := range [][]byte{append(bytes.Clone(raw), 0), raw[:len(raw)-1], raw[:3]} {
		if _, err := Open(kek, base64.StdEncoding.EncodeToString(b), aad); err == nil {
			t.Fatalf("resized envelope (%d bytes) opened", len(b))
		}
	}
}

func reencode(env string, edit func([]byte)) string {
	raw, err := base64.StdEncoding.DecodeString(env)
	if err != nil {
		panic(err)
	}
	edit(raw)
	return base64.StdEncoding.EncodeToString(raw)
}

func TestNamedKEK(t *testing.T) {
	kr := testKeyring(t, 3)
	const tenancy = "123456789012:us-east-1"
	wrapped, err := kr.NewKEK(tenancy, "key-1")
	if err != nil {
		t.Fatal(err)
	}
	kek, err := kr.UnwrapKEK(tenancy, "key-1", wrapped)
	if err != nil {
		t.Fatal(err)
	}
	if kek.ID() != "key-1" {
		t.Fatalf("got ID %q, want key-1", kek.ID())
	}
	aad := []byte("aad")
	env, err := Seal(kek, "v", aad)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := EnvelopeKeyID(env); id != "key-1" {
		t.Fatalf("got envelope key %q, want key-1", id)
	}
	// Unwrapping again (another request, another node) opens the envelope.
	again, err := kr.UnwrapKEK(tenancy, "key-1", wrapped)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Open(again, env, aad); err != nil || got != "v" {
		t.Fatalf("got %q, %v; want v", got, err)
	}
	// Another key, even the default key, refuses the envelope.
	def, _ := kr.DefaultKEK(tenancy)
	if _, err := Open(def, env, aad); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("default key opened a named key's envelope: %v", err)
	}
	wrapped2, _ := kr.NewKEK(tenancy, "key-2")
	if bytes.Equal(wrapped, wrapped2) {
		t.Fatal("two named keys have the same wrapped material")
	}
	k2, _ := kr.UnwrapKEK(tenancy, "key-2", wrapped2)
	if _, err := Open(k2, env, aad); err == nil {
		t.Fatal("key-2 opened key-1's envelope")
	}

	// The wrapping binds the tenancy and the key ID, and the master key.
	bad := []struct {
		name    string
		kr      *Keyring
		tenancy string
		id      string
		wrapped []byte
	}{
		{"other id", kr, tenancy, "key-2", wrapped},
		{"other tenancy", kr, "123456789012:eu-west-1", "key-1", wrapped},
		{"other master", testKeyring(t, 4), tenancy, "key-1", wrapped},
		{"truncated", kr, tenancy, "key-1", wrapped[:len(wrapped)-1]},
		{"too short", kr, tenancy, "key-1", wrapped[:4]},
		{"tampered", kr, tenancy, "key-1", func() []byte { b := bytes.Clone(wrapped); b[len(b)-1] ^= 1; return b }()},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.kr.UnwrapKEK(tc.tenancy, tc.id, tc.wrapped); err == nil {
				t.Fatal("UnwrapKEK succeeded")
			}
		})
	}
}

func TestDefaultKEKIsDeterministic(t *testing.T) {
	const tenancy = "123456789012:us-east-1"
	k1, _ := testKeyring(t, 5).DefaultKEK(tenancy)
	k2, _ := testKeyring(t, 5).DefaultKEK(tenancy)
	env, _ := Seal(k1, "v", nil)
	// Same master (a restart, another node): same default key.
	if got, err := Open(k2, env, nil); err != nil || got != "v" {
		t.Fatalf("got %q, %v; want v", got, err)
	}
}

func TestMAC(t *testing.T) {
	kr := testKeyring(t, 6)
	a := kr.MAC("next-token", []byte("payload"))
	if len(a) != sha256.Size || !bytes.Equal(a, kr.MAC("next-token", []byte("payload"))) {
		t.Fatalf("MAC is not a stable HMAC-SHA256: %x", a)
	}
	for _, other := range [][]byte{
		kr.MAC("other purpose", []byte("payload")),
		kr.MAC("next-token", []byte("payload2")),
		testKeyring(t, 7).MAC("next-token", []byte("payload")),
	} {
		if bytes.Equal(a, other) {
			t.Fatal("MAC does not depend on purpose, data and master key")
		}
	}
}

func TestKEKDoesNotRevealMaterial(t *testing.T) {
	master := bytes.Repeat([]byte{8}, keySize)
	kr, err := New(master)
	if err != nil {
		t.Fatal(err)
	}
	const tenancy = "123456789012:us-east-1"
	kek, err := kr.DefaultKEK(tenancy)
	if err != nil {
		t.Fatal(err)
	}
	material, err := hkdf.Key(sha256.New, master, nil, "paramstore default key "+tenancy, keySize)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kek.String(), "crypto.KEK(aws/ssm)"; got != want {
		t.Fatalf("got String() %q, want %q", got, want)
	}
	//lint:ignore SA9005 the test checks that encoding a KEK reveals nothing
	js, _ := json.Marshal(kek)
	outputs := []string{
		//lint:ignore S1025 the test checks every formatting verb
		fmt.Sprint(kek), fmt.Sprintf("%v", kek), fmt.Sprintf("%+v", kek), fmt.Sprintf("%s", kek),
		fmt.Sprintf("%#v", kek), fmt.Sprintf("%v", *kek), fmt.Sprintf("%+v", kr), fmt.Sprintf("%#v", kr), string(js),
	}
	secrets := map[string][]byte{"KEK material": material, "master key": master}
	for _, out := range outputs {
		for what, secret := range secrets {
			for _, enc := range []string{hex.EncodeToString(secret), base64.StdEncoding.EncodeToString(secret), string(secret), fmt.Sprint(secret)} {
				if strings.Contains(out, enc) {
					t.Errorf("formatted %q reveals the %s", out, what)
				}
			}
		}
	}
}

func TestLoadOrCreateMaster(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")

	if _, err := LoadOrCreateMaster(path, false); err == nil {
		t.Fatal("loaded a missing master key without create")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("create=false created the file: %v", err)
	}

	key, err := LoadOrCreateMaster(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != keySize || bytes.Equal(key, make([]byte, keySize)) {
		t.Fatalf("got key %x, want 32 random bytes", key)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Fatalf("got mode %o, want 600", mode)
	}
	for _, create := range []bool{true, false} {
		again, err := LoadOrCreateMaster(path, create)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, key) {
			t.Fatalf("reload (create=%v) gave another key", create)
		}
	}
	other, err := LoadOrCreateMaster(filepath.Join(dir, "other.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other, key) {
		t.Fatal("two created master keys are equal")
	}

	good, _ := os.ReadFile(path)
	corrupt := map[string]string{
		"empty":          "",
		"garbage":        "not a key\n",
		"short key":      masterFileV1 + base64.StdEncoding.EncodeToString(make([]byte, 16)) + "\n",
		"long key":       masterFileV1 + base64.StdEncoding.EncodeToString(make([]byte, 33)) + "\n",
		"truncated":      string(good[:len(good)/2]),
		"bad base64":     masterFileV1 + "!!!!" + strings.Repeat("A", 40) + "\n",
		"other prefix":   "paramstore-master-key-v2:" + base64.StdEncoding.EncodeToString(key) + "\n",
		"doubled prefix": masterFileV1 + string(good),
	}
	for name, text := range corrupt {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadOrCreateMaster(p, true)
			if err == nil {
				t.Fatalf("accepted a corrupt master key file, got %x", got)
			}
			if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(key)) {
				t.Fatalf("error reveals key material: %v", err)
			}
			// A corrupt file is never replaced by a new key.
			if b, _ := os.ReadFile(p); string(b) != text {
				t.Fatal("corrupt master key file was rewritten")
			}
		})
	}

	// A path that cannot be read is an error, not a reason to make a new
	// key (a directory stands in for an unreadable file, even for root).
	unreadable := filepath.Join(dir, "unreadable.key")
	if err := os.Mkdir(unreadable, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateMaster(unreadable, true); err == nil {
		t.Fatal("loaded a master key from a directory")
	}
}

// FuzzOpen feeds arbitrary envelopes to Open: it must never panic, and
// anything it opens must be exactly what was sealed.
func FuzzOpen(f *testing.F) {
	kr, err := New(bytes.Repeat([]byte{9}, keySize))
	if err != nil {
		f.Fatal(err)
	}
	kek, err := kr.DefaultKEK("t")
	if err != nil {
		f.Fatal(err)
	}
	env, err := Seal(kek, "sealed", []byte("aad"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{env, "", "AQ==", "AQAA", "AQdhd3Mvc3Nt", env[:len(env)-4], reencode(env, func(b []byte) { b[2+len(DefaultKeyID)] = 0 })} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		_, _ = EnvelopeKeyID(text)
		got, err := Open(kek, text, []byte("aad"))
		if err == nil && got != "sealed" {
			t.Fatalf("Open(%q) = %q: opened something that was never sealed", text, got)
		}
	})
}
