// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP requests
// the way AWS JSON services do (spec §4).
//
// The package is pure: it does no I/O and imports no other internal package.
// The caller reads the request body, passes it in with the request, and
// supplies a clock and a credential lookup through Config. A Verifier checks,
// in the order of spec §4.4:
//
//  1. an Authorization header or presigned query auth is present
//     (MissingAuthenticationTokenException);
//  2. it parses, with every required part (IncompleteSignatureException);
//  3. the access key is known (UnrecognizedClientException);
//  4. the session token matches the one issued for that key
//     (UnrecognizedClientException);
//  5. the credentials have not expired (ExpiredTokenException);
//  6. the credential scope names the right date, a valid region, the
//     service and the aws4_request terminator (InvalidSignatureException);
//  7. and 8. the request time is within 15 minutes of the server clock
//     (InvalidSignatureException);
//  9. the signature matches (InvalidSignatureException).
//
// Every refusal is an *Error carrying the AWS code and the exact message the
// client should see. Errors from the credential lookup other than
// ErrUnknownAccessKey are returned wrapped, and are not *Error: the caller
// should treat them as internal failures.
//
// Canonicalisation follows the AWS SDKs: the canonical URI is the path as
// sent, with each segment URI-encoded again (non-S3 services encode twice);
// if that does not verify, the path with dot segments and repeated slashes
// removed (as botocore signs it) is tried too. Presigned requests may sign
// the payload as UNSIGNED-PAYLOAD; header-signed requests always sign the
// body, and a signed X-Amz-Content-Sha256 header must equal the body's hash.
//
// Presigned requests (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
// X-Amz-SignedHeaders, X-Amz-Signature, optional X-Amz-Expires and
// X-Amz-Security-Token in the query) go through the same checks; with
// X-Amz-Expires they stay valid from the signing time until it passes
// instead of 15 minutes back. Their error texts, like those for a wrong
// algorithm, a malformed credential or date and an unsigned host, are this
// package's choice (spec §4.5 leaves them open).
//
// Derived signing keys are cached per access key, secret, date, region and
// service in a small bounded cache, so a verification costs one HMAC for the
// signature instead of five.
package sigv4
