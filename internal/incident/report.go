package incident

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Report writes the markdown post-incident report of inc: summary, impact
// in numbers, the timeline, what kept applications running, and blank
// sections for the humans (root cause, actions). now dates an incident
// still open.
func Report(w io.Writer, inc Incident, now time.Time) error {
	var b strings.Builder
	state := ""
	if inc.Ended != nil {
		state = inc.Ended.UTC().Format(time.RFC3339)
	}
	if inc.Ended == nil {
		state = "**still open**"
	}
	fmt.Fprintf(&b, "# Incident %s\n\n", inc.ID)
	fmt.Fprintf(&b, "## Summary\n\n")
	by := inc.Source
	if inc.Node != "" {
		by += " node " + inc.Node
	}
	fmt.Fprintf(&b, "- Recorded by: %s\n- Kind: %s\n- Started: %s\n- Ended: %s\n- Duration: %s\n\n",
		by, inc.Kind, inc.Started.UTC().Format(time.RFC3339), state, inc.Duration(now).Round(time.Millisecond))
	im := inc.Impact
	fmt.Fprintf(&b, "## Impact\n\n")
	fmt.Fprintf(&b, "| measure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| requests during the incident | %d |\n", im.Requests)
	fmt.Fprintf(&b, "| failed | %d |\n", im.Failed)
	if inc.Source == SourceServer {
		fmt.Fprintf(&b, "| throttled | %d |\n", im.Throttled)
	}
	fmt.Fprintf(&b, "| served stale | %d |\n", im.ServedStale)
	fmt.Fprintf(&b, "| max staleness | %.1fs |\n", im.MaxStalenessSeconds)
	if im.Requests > 0 {
		// Throttled calls are refused too, if not failed.
		fmt.Fprintf(&b, "| success rate | %.2f%% |\n", 100*float64(im.Requests-im.Failed-im.Throttled)/float64(im.Requests))
	}
	b.WriteString("\n")
	if len(im.Parameters) > 0 {
		fmt.Fprintf(&b, "Parameters affected: %s\n\n", codeList(im.Parameters))
	}
	if len(im.Upstreams) > 0 {
		fmt.Fprintf(&b, "Upstreams affected: %s\n\n", codeList(im.Upstreams))
	}
	fmt.Fprintf(&b, "## Timeline (UTC)\n\n")
	for _, e := range inc.Timeline {
		fmt.Fprintf(&b, "- %s %s\n", e.Time.UTC().Format("15:04:05.000"), e.Event)
	}
	if inc.TimelineDropped > 0 {
		fmt.Fprintf(&b, "- (%d more entries were not kept)\n", inc.TimelineDropped)
	}
	b.WriteString("\n## What kept applications running\n\n")
	if inc.Source == SourceAgent {
		fmt.Fprintf(&b, "- %d reads answered from fresh cached values\n", im.FromCache)
		// ServedStale counts the bundle's answers too (they are stale).
		fmt.Fprintf(&b, "- %d reads answered with stale cached values (stale-if-error)\n", im.ServedStale-im.FromBundle)
		fmt.Fprintf(&b, "- %d cache entries restored from disk at start\n", im.FromDisk)
		fmt.Fprintf(&b, "- %d reads answered from a bundle\n", im.FromBundle)
		fmt.Fprintf(&b, "- %d reads failed\n\n", im.Failed)
	} else {
		b.WriteString("- Agents' caches (stale-if-error) and followers' stale reads carry reads through a server outage;\n" +
			"  the agents' own incidents (`paramstore incidents list --endpoint AGENT_URL`) count the reads they served.\n\n")
	}
	b.WriteString("## Root cause\n\n_To be written._\n\n## Actions\n\n- [ ] _To be written._\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func codeList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`" + strings.ReplaceAll(n, "`", "'") + "`"
	}
	return strings.Join(q, ", ")
}
