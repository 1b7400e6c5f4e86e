// Package crypto is the keyring and envelope encryption of SecureString
// values (DESIGN.md §2.4).
//
// Three levels of keys:
//   - the master key, 32 random bytes in a 0600 file outside the store; it
//     never enters the store or the raft log;
//   - key-encryption keys (KEKs), the "KMS keys" of the API: the default key
//     alias/aws/ssm of each tenancy is derived from the master key with
//     HKDF; named keys are random and stored wrapped by the master key;
//   - a fresh data key per value, wrapped by the KEK inside the envelope.
//
// Values are sealed with AES-256-GCM; the envelope binds the tenancy and the
// parameter name as additional data, so a ciphertext copied to another
// parameter does not decrypt.
package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/paramstore/paramstore/internal/atomicfile"
)

// DefaultKeyID is the key ID of the derived default key (alias/aws/ssm).
const DefaultKeyID = "aws/ssm"

const (
	keySize      = 32
	envelopeV1   = 1
	masterFileV1 = "paramstore-master-key-v1:"
)

// Errors of the package.
var (
	ErrDecrypt  = errors.New("crypto: decryption failed")
	ErrEnvelope = errors.New("crypto: malformed envelope")
)

// Keyring holds the master key. It hands out KEKs and never exposes key
// material.
type Keyring struct {
	master [keySize]byte
	wrap   cipher.AEAD
}

// New builds a keyring from a 32-byte master key.
func New(master []byte) (*Keyring, error) {
	if len(master) != keySize {
		return nil, fmt.Errorf("crypto: master key is %d bytes, want %d", len(master), keySize)
	}
	k := &Keyring{}
	copy(k.master[:], master)
	wk, err := k.derive("paramstore key wrapping")
	if err != nil {
		return nil, err
	}
	k.wrap, err = newGCM(wk)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// String redacts the keyring, so that printing it (or a config that holds
// it) never shows the master key.
func (k *Keyring) String() string { return "crypto.Keyring(redacted)" }

// GoString redacts the keyring for %#v.
func (k *Keyring) GoString() string { return k.String() }

// LoadOrCreateMaster reads the master key file at path, creating it (mode
// 0600) with a random key if it does not exist and create is true.
func LoadOrCreateMaster(path string, create bool) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		return parseMaster(path, raw)
	}
	if !errors.Is(err, os.ErrNotExist) || !create {
		return nil, fmt.Errorf("crypto: read master key: %w", err)
	}
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	text := masterFileV1 + base64.StdEncoding.EncodeToString(key) + "\n"
	// Never over an existing key, and never a torn one: a crash leaves no
	// file or the whole key.
	if err := atomicfile.WriteNew(path, []byte(text), 0o600); err != nil {
		return nil, fmt.Errorf("crypto: create master key: %w", err)
	}
	return key, nil
}

func parseMaster(path string, raw []byte) ([]byte, error) {
	s := strings.TrimSpace(string(raw))
	s = strings.TrimPrefix(s, masterFileV1)
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(key) != keySize {
		return nil, fmt.Errorf("crypto: %s is not a master key file (want %q followed by 32 base64 bytes)", path, masterFileV1)
	}
	return key, nil
}

func (k *Keyring) derive(info string) ([]byte, error) {
	return hkdf.Key(sha256.New, k.master[:], nil, info, keySize)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// MAC returns HMAC-SHA256 of data under a key derived for purpose.
func (k *Keyring) MAC(purpose string, data []byte) []byte {
	key, _ := k.derive("paramstore mac " + purpose)
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// KEK is a key-encryption key usable for one tenancy. Its material cannot be
// read, printed or compared with ==.
type KEK struct {
	_    [0]func() // not comparable
	id   string
	aead cipher.AEAD
}

// ID is the key's ID.
func (k *KEK) ID() string { return k.id }

// String redacts the key.
func (k *KEK) String() string { return "crypto.KEK(" + k.id + ")" }

// DefaultKEK returns the tenancy's alias/aws/ssm key.
func (k *Keyring) DefaultKEK(tenancy string) (*KEK, error) {
	material, err := k.derive("paramstore default key " + tenancy)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(material)
	if err != nil {
		return nil, err
	}
	return &KEK{id: DefaultKeyID, aead: aead}, nil
}

// NewKEK creates the material of a named key and returns it wrapped by the
// master key, for storing.
func (k *Keyring) NewKEK(tenancy, id string) ([]byte, error) {
	material := make([]byte, keySize)
	if _, err := rand.Read(material); err != nil {
		return nil, err
	}
	return seal(k.wrap, material, []byte("kek\x00"+tenancy+"\x00"+id))
}

// UnwrapKEK opens a stored named key.
func (k *Keyring) UnwrapKEK(tenancy, id string, wrapped []byte) (*KEK, error) {
	material, err := open(k.wrap, wrapped, []byte("kek\x00"+tenancy+"\x00"+id))
	if err != nil {
		return nil, fmt.Errorf("crypto: unwrap key %s: %w", id, err)
	}
	aead, err := newGCM(material)
	if err != nil {
		return nil, err
	}
	return &KEK{id: id, aead: aead}, nil
}

func seal(aead cipher.AEAD, plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plaintext, aad), nil
}

func open(aead cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	ns := aead.NonceSize()
	if len(sealed) < ns+aead.Overhead() {
		return nil, ErrEnvelope
	}
	pt, err := aead.Open(nil, sealed[:ns], sealed[ns:], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// Seal encrypts a value with a fresh data key wrapped by kek. aad binds the
// envelope to its parameter. The result is the envelope's text form (base64),
// which is also what a read without decryption returns.
//
// Envelope: version(1) | len(keyID)(1) | keyID | len(wrappedDK)(1) | wrappedDK | sealed value.
func Seal(kek *KEK, plaintext string, aad []byte) (string, error) {
	dk := make([]byte, keySize)
	if _, err := rand.Read(dk); err != nil {
		return "", err
	}
	wrapped, err := seal(kek.aead, dk, aad)
	if err != nil {
		return "", err
	}
	aead, err := newGCM(dk)
	if err != nil {
		return "", err
	}
	body, err := seal(aead, []byte(plaintext), aad)
	if err != nil {
		return "", err
	}
	buf := make([]byte, 0, 3+len(kek.id)+len(wrapped)+len(body))
	buf = append(buf, envelopeV1, byte(len(kek.id)))
	buf = append(buf, kek.id...)
	buf = append(buf, byte(len(wrapped)))
	buf = append(buf, wrapped...)
	buf = append(buf, body...)
	return base64.StdEncoding.EncodeToString(buf), nil
}

type envelope struct {
	keyID   string
	wrapped []byte
	body    []byte
}

func parseEnvelope(text string) (*envelope, error) {
	raw, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(raw) < 3 || raw[0] != envelopeV1 {
		return nil, ErrEnvelope
	}
	n := int(raw[1])
	if len(raw) < 2+n+1 {
		return nil, ErrEnvelope
	}
	e := &envelope{keyID: string(raw[2 : 2+n])}
	rest := raw[2+n:]
	m := int(rest[0])
	if len(rest) < 1+m {
		return nil, ErrEnvelope
	}
	e.wrapped, e.body = rest[1:1+m], rest[1+m:]
	return e, nil
}

// EnvelopeKeyID returns the ID of the KEK that sealed an envelope.
func EnvelopeKeyID(text string) (string, error) {
	e, err := parseEnvelope(text)
	if err != nil {
		return "", err
	}
	return e.keyID, nil
}

// Open decrypts an envelope made by Seal with the same kek and aad.
func Open(kek *KEK, text string, aad []byte) (string, error) {
	e, err := parseEnvelope(text)
	if err != nil {
		return "", err
	}
	if e.keyID != kek.id {
		return "", fmt.Errorf("crypto: envelope sealed by key %s, not %s: %w", e.keyID, kek.id, ErrDecrypt)
	}
	dk, err := open(kek.aead, e.wrapped, aad)
	if err != nil {
		return "", err
	}
	aead, err := newGCM(dk)
	if err != nil {
		return "", err
	}
	pt, err := open(aead, e.body, aad)
	if err != nil {
		return "", err
	}
	return string(pt), nil
}
