package store

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
)

// TestApplyIncidentBounded: the replicated incident history holds at most
// MaxIncidents records; filled past it, it keeps the newest (IDs sort by
// start time) and drops the oldest first.
func TestApplyIncidentBounded(t *testing.T) {
	db := openTestDB(t)
	const extra = 7
	id := func(i int) string { return fmt.Sprintf("server-20300101T%06dZ-%06x", i, i) }
	for i := range MaxIncidents + extra {
		db.mustApply(&Command{Op: OpIncident, ID: fmt.Sprint("cmd-", i), Name: id(i), Tenancy: "123456789012:us-east-1",
			Incident: []byte(fmt.Sprintf(`{"id":%q,"started":"2030-01-01T00:00:00Z","ended":null}`, id(i))), Time: 1})
	}
	var got []string
	err := db.d.View(context.Background(), func(r *Reader) error {
		raw, err := r.Incidents()
		for _, b := range raw {
			var v struct{ ID string }
			if err := json.Unmarshal(b, &v); err != nil {
				return err
			}
			got = append(got, v.ID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != MaxIncidents {
		t.Fatalf("%d incidents kept after %d recorded, want MaxIncidents = %d", len(got), MaxIncidents+extra, MaxIncidents)
	}
	if got[0] != id(extra) || got[len(got)-1] != id(MaxIncidents+extra-1) {
		t.Errorf("kept %s .. %s, want %s .. %s (the %d oldest dropped)", got[0], got[len(got)-1], id(extra), id(MaxIncidents+extra-1), extra)
	}
}
