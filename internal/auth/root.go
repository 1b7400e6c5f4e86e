package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/paramstore/paramstore/internal/atomicfile"
	"github.com/paramstore/paramstore/internal/store"
)

// EnsureRoot creates the root identity and its access key on the first
// start of an empty store (or whenever root has no access key), writing the
// credentials to path (mode 0600) in the AWS shared-credentials format under
// profile "default". It returns true when it created them. The file is written before the key is committed, so
// a crash in between leaves a file whose key the next start replaces.
func (a *Authenticator) EnsureRoot(ctx context.Context, path string) (bool, error) {
	// Root counts as existing once it has a key: a root principal
	// committed without one (a crash in between) gets a key now.
	var exists bool
	err := a.st.View(ctx, func(r *store.Reader) error {
		keys, err := r.AccessKeys(RootName)
		exists = len(keys) > 0
		return err
	})
	if err != nil || exists {
		return false, err
	}
	id, secret := NewAccessKeyID(false), NewSecret()
	text := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", id, secret)
	if err := atomicfile.WriteFile(path, []byte(text), 0o600); err != nil {
		return false, fmt.Errorf("auth: write root credentials: %w", err)
	}
	wrapped, err := a.kr.Wrap(purposeSecret, id, []byte(secret))
	if err != nil {
		return false, err
	}
	now := a.now().UnixMilli()
	err = a.st.Apply(ctx, &store.Command{Op: store.OpPutPrincipal, Create: true,
		Principal: &store.Principal{Name: RootName, Kind: store.KindRoot, Created: now}})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return false, fmt.Errorf("auth: create root: %w", err)
	}
	err = a.st.Apply(ctx, &store.Command{Op: store.OpPutAccessKey, Create: true,
		AccessKey: &store.AccessKey{ID: id, Principal: RootName, SecretWrapped: wrapped, Created: now}})
	if err != nil {
		return false, fmt.Errorf("auth: create root access key: %w", err)
	}
	return true, nil
}
