// Package ssm is the vocabulary of the SSM Parameter Store API, with no
// I/O and no other internal package imported: parameter names, parsed and
// checked once (Name, Reference with its version or label selector),
// tenancies, regions and partitions, types, tiers and data types, the
// input and output shapes of the AWS JSON 1.1 operations, their model
// validation, and the error catalogue.
//
// An Error is what a caller is answered with: an AWS error code, a message
// safe to show, the HTTP status of the code, and, for the server's own
// failures (Wrap, Unavailable), an internal cause that is never sent but is
// part of Error(), so that every log line of the error says what went
// wrong. Package service translates storage failures into Errors
// (service.AWSError); package api writes them as AWS JSON error bodies.
package ssm
