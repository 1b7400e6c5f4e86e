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
// sequence starts at 1 and grows by one per line over the whole trail,
// across its rotated files (see files.go and rotate.go). hash is
//
//	hex(SHA-256(previousHash || "\n" || canonical))
//
// where canonical is the line without its hash member, exactly as written:
// the members appear in a fixed order (that of the encoding struct) and
// every object inside requestParameters and responseElements has its keys
// sorted, as encoding/json does for maps. previousHash is the hash of the
// line before (the last line of the file before, for the first line of a
// rotated file), or 64 zeros on the trail's first line. Editing, deleting, inserting
// or reordering lines therefore breaks the chain, and VerifyFile reports the
// first line where it breaks.
//
// # Secrets
//
// Parameter values never reach the trail. Before a record is encoded, the
// sink passes requestParameters and responseElements through Redact, which
// replaces every member named "Value" in any letter case (except the Value
// of a tag in a "Tags" or "TagList" array) with "hmac-sha256:" +
// hex(HMAC-SHA256(key, value)). Equal values give equal HMACs under one
// key, so events can be correlated without revealing the value (Vault's
// audit hashing works the same way).
//
// A record with Keep set (the admin API and any call that is not an SSM
// operation) is redacted default deny instead, by KeepOnly: a member keeps
// its value only if its name and the names of the members around it are on
// the allowlist; every other value is written as Hidden
// ("HIDDEN_DUE_TO_SECURITY_REASONS"), so the record still names the member.
//
// An errorMessage that contains the text of any value the redaction hid is
// written as Hidden as a whole, whoever built the message; callers also
// pass a message without echoed values when they have one
// (ssm.Error.RecordedMessage).
//
// # Durability
//
// A FileSink has one writer goroutine that takes queued records in batches,
// assigns sequence numbers in file order, appends the batch with a single
// write and calls fsync once for the batch (group commit). Log with Durable
// returns only after the fsync that covers its record; Log with Buffered or
// Applied returns once the record is queued, and its record is written and
// fsynced with the next durable batch, whichever comes first: written
// within Config.FlushInterval and fsynced within Config.SyncInterval (a
// read-only load fsyncs a few times a second, not on every flush). Close
// writes and fsyncs everything queued before it.
//
// The API logs an intent record (eventType AwsApiCallIntent), Durable,
// before any call that may change state runs, and the call's AwsApiCall
// record, Applied, once it has run: no change happens without a durable
// record of its request, and the outcome of a change that happened is
// never turned into an error by the trail.
//
// On a node without peers, and on a cluster's leader, a PutParameter's
// intent takes another path to the same guarantee (intent.go, store/intent.go, raftstore/intent.go):
// EncodeIntent encodes it (redacted, as the trail writes it) into the raft
// command of the change, whose log fsync makes it durable with the change;
// the node appends it with LogIntent (Applied, with the entry's raftIndex)
// when it applies the entry, before the call's AwsApiCall record; the
// state machine fsyncs the trail (Flush) before each of its commits, so an
// entry that will not be applied again has its intent durable; and a
// restart that applies entries again skips those whose intent the end of
// the trail already holds (IntentIndexes). While the trail is failing the
// API takes the Durable path, which refuses the call, and a state machine
// commit records the intents not yet durable on the trail in the state
// instead (store.DB.OwedIntents), for the next start to append.
//
// # Failures
//
// The writer keeps each record in memory until it is fsynced. When a write
// or fsync fails (a full disk), it cuts the file back to its last durable
// line, so no partial line stays, and keeps the records; Durable Logs then
// fail (the API refuses the change before it runs), Buffered ones wait in
// memory up to Config.MaxBacklog and are refused after it, and Applied
// ones always wait. Every Durable Log, every Config.RetryInterval and
// Close try again; the first success writes everything, in order, and the
// trail is healthy again without a restart.
//
// A crash can still tear the last line. Open never drops it silently: it
// saves the bytes to <path>.torn-<time>, cuts them, and chains an
// AuditTrailTornRecord event that names the file; VerifyFile reports it.
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
