package incident

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/paramstore/paramstore/internal/atomicfile"
)

// maxFileSize bounds what FileStore reads: a history at its default bounds
// is far smaller.
const maxFileSize = 16 << 20

// FileStore keeps the history as one JSON file, replaced atomically on
// every Save.
type FileStore struct{ Path string }

var _ Store = FileStore{}

// Load reads the file; a missing file is an empty history.
func (s FileStore) Load() ([]Incident, error) {
	f, err := os.Open(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxFileSize {
		return nil, fmt.Errorf("incident: %s: %d bytes, more than a history can hold", s.Path, st.Size())
	}
	var file struct {
		Incidents []Incident `json:"incidents"`
	}
	if err := json.NewDecoder(f).Decode(&file); err != nil {
		return nil, fmt.Errorf("incident: %s: %w", s.Path, err)
	}
	return file.Incidents, nil
}

// Save replaces the file with incs (internal/atomicfile: written beside,
// fsynced, renamed, the directory fsynced).
func (s FileStore) Save(incs []Incident) error {
	data, err := json.Marshal(struct {
		Incidents []Incident `json:"incidents"`
	}{incs})
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(s.Path, data, 0o600)
}
