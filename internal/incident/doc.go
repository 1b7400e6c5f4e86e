// Package incident records outages where they happen (DESIGN.md decision 9):
// an Incident has a start, an end, an impact in numbers and an ordered
// timeline of transitions, and a Recorder keeps a bounded history of them
// durable in a Store. The agent and the server both record through it; the
// report a human reviews after an outage is Report.
//
// A Recorder holds at most one open incident: what happens while one is
// open (another breaker opening, a fault injected) is a timeline entry of
// it, not a new incident. Records hold names, upstream URLs, counts and
// error codes, never a parameter value.
//
// A Recorder is safe for concurrent use. Impact counters change on every
// request and are made durable by Flush (the owner calls it periodically);
// opening, noting and ending are durable when they return, if the Store
// accepts the write (a failing Store is logged, and the history stays in
// memory).
package incident
