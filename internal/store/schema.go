package store

import (
	"encoding/binary"
	"strings"
)

// The bbolt schema. Every key starts with the tenancy key ("account:region")
// followed by a NUL byte; parameter names never contain NUL, so a prefix scan
// of one tenancy or one path never crosses into another.
//
//	meta      "applied" -> big-endian raft index of the last applied entry
//	          "schema"  -> schemaVersion
//	params    tenancy \0 canonicalName              -> Parameter (JSON)
//	versions  tenancy \0 canonicalName \0 be64(ver) -> Version (JSON)
//	tenancy   tenancy                               -> Tenancy (JSON)
//	keys      tenancy \0 keyID                      -> Key (JSON)
//	aliases   tenancy \0 alias                      -> keyID
//	principals name                                  -> Principal (JSON)     (iam.go)
//	accesskeys accessKeyID                           -> AccessKey (JSON)     (iam.go)
//	changes   be64(raft index) -> Change (JSON)     (changes.go)
//	requests  commandID -> result of the command (dedup.go)
//	nodes     nodeID                                 -> NodeInfo (JSON)      (nodes.go)
//	meta      "iamVersion" -> raft index of the last identity change
//	          "appliedTerm" -> big-endian raft term of the last applied entry
//	          "keyCheck" -> key check value of the cluster's master key (keycheck.go)
//	outbox    be64(raft index) be32(seq) -> Event (JSON)         (events.go)
//	subs      name -> Subscription (JSON)                        (events.go)
//	policyparams tenancy \0 canonicalName -> ""                  (policies.go)
var (
	bucketMeta     = []byte("meta")
	bucketParams   = []byte("params")
	bucketVersions = []byte("versions")
	bucketTenancy  = []byte("tenancy")
	bucketKeys     = []byte("keys")
	bucketAliases  = []byte("aliases")

	allBuckets = [][]byte{bucketMeta, bucketParams, bucketVersions, bucketTenancy, bucketKeys, bucketAliases,
		bucketPrincipals, bucketAccessKeys, bucketNodes, bucketRequests, bucketChanges}

	// deferredBuckets are those the deferred commands (OpPut, OpDelete,
	// OpMeta: batch.go) write; no other command is deferred.
	deferredBuckets = [][]byte{bucketMeta, bucketParams, bucketVersions, bucketTenancy,
		bucketRequests, bucketChanges, bucketOutbox, bucketPolicyParams}

	keyApplied     = []byte("applied")
	keyAppliedTerm = []byte("appliedTerm")
	keySchema      = []byte("schema")
)

func deferredBucket(name []byte) bool {
	for _, b := range deferredBuckets {
		if string(b) == string(name) {
			return true
		}
	}
	return false
}

// SchemaVersion is the version of the state machine's schema.
const SchemaVersion = "1"

const schemaVersion = SchemaVersion

func tenancyPrefix(tenancy string) []byte {
	b := make([]byte, 0, len(tenancy)+1)
	b = append(b, tenancy...)
	return append(b, 0)
}

func paramKey(tenancy, name string) []byte {
	return appendParamKey(make([]byte, 0, len(tenancy)+len(name)+1), tenancy, name)
}

func appendParamKey(b []byte, tenancy, name string) []byte {
	b = append(b, tenancy...)
	b = append(b, 0)
	return append(b, name...)
}

func versionPrefix(tenancy, name string) []byte {
	return append(appendParamKey(make([]byte, 0, len(tenancy)+len(name)+2), tenancy, name), 0)
}

// versionKey is versionPrefix and the version, in one allocation.
func versionKey(tenancy, name string, v int64) []byte {
	b := append(appendParamKey(make([]byte, 0, len(tenancy)+len(name)+10), tenancy, name), 0)
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

// nameOf extracts the parameter name from a params key.
func nameOf(key []byte) string {
	i := strings.IndexByte(string(key), 0)
	return string(key[i+1:])
}
