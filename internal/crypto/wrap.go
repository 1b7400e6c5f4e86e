package crypto

import "fmt"

// Wrap encrypts a small secret (an access key's secret, a session token)
// under the master key for storing; purpose and id are bound as additional
// data, so a wrapped secret only opens for the record it was made for.
func (k *Keyring) Wrap(purpose, id string, secret []byte) ([]byte, error) {
	return seal(k.wrap, secret, []byte("secret\x00"+purpose+"\x00"+id))
}

// Unwrap opens a secret made by Wrap with the same purpose and id.
func (k *Keyring) Unwrap(purpose, id string, wrapped []byte) ([]byte, error) {
	pt, err := open(k.wrap, wrapped, []byte("secret\x00"+purpose+"\x00"+id))
	if err != nil {
		return nil, fmt.Errorf("crypto: unwrap %s %s: %w", purpose, id, err)
	}
	return pt, nil
}

// SubKey derives a 32-byte key for one purpose (for example the HMAC key of
// the audit trail) from the master key.
func (k *Keyring) SubKey(purpose string) ([]byte, error) {
	return k.derive("paramstore subkey " + purpose)
}
