// Package audit writes a tamper-evident, CloudTrail-like audit trail of SSM
// API calls and verifies it.
//
// # Records
//
// A trail is a JSON Lines file: one Record per line, with the field names of
// an AWS CloudTrail event (eventVersion "1.08", eventSource
// "ssm.amazonaws.com", eventName, userIdentity, requestParameters,
// responseElements, ...) plus three chain members that end every line:
//
//	"sequence":N,"previousHash":"<hex>","hash":"<hex>"}
//
// sequence starts at 1 in every file and grows by one per line. hash is
//
//	hex(SHA-256(previousHash || "\n" || canonical))
//
// where canonical is the line without its hash member, exactly as written:
// the members appear in a fixed order (that of the encoding struct) and
// every object inside requestParameters and responseElements has its keys
// sorted, as encoding/json does for maps. previousHash is the hash of the
// line before, or 64 zeros on the first line. Editing, deleting, inserting
// or reordering lines therefore breaks the chain, and VerifyFile reports the
// first line where it breaks.
//
// # Secrets
//
// Parameter values never reach the trail. Before a record is encoded, the
// sink passes requestParameters and responseElements through Redact, which
// replaces every member named exactly "Value" (except the Value of a tag in
// a "Tags" or "TagList" array) with "hmac-sha256:" + hex(HMAC-SHA256(key,
// value)). Equal values give equal HMACs under one key, so events can be
// correlated without revealing the value (Vault's audit hashing works the
// same way).
//
// # Durability
//
// A FileSink has one writer goroutine that takes queued records in batches,
// assigns sequence numbers in file order, appends the batch with a single
// write and calls fsync once for the batch (group commit). Log with Durable
// returns only after the fsync that covers its record; Log with Buffered
// returns once the record is queued, and its record is written at once and
// fsynced with the next durable batch or within Config.FlushInterval,
// whichever comes first. Close writes and fsyncs everything queued before it.
//
// # Limitations
//
// The chain is not keyed: it shows accidental damage and naive edits, but
// someone who can rewrite the file can also recompute every hash after the
// point they changed, and removing whole lines from the end of a file
// leaves a valid, shorter chain. Compare the last hash with a copy kept
// elsewhere (VerifyFile reports it) to detect that. Only one FileSink may
// write a given file at a time.
package audit
