package ssm

import (
	"errors"
	"fmt"
	"net/http"
)

// Error codes of the SSM API that this server produces (spec §15).
const (
	CodeValidation               = "ValidationException"
	CodeParameterNotFound        = "ParameterNotFound"
	CodeParameterVersionNotFound = "ParameterVersionNotFound"
	CodeParameterAlreadyExists   = "ParameterAlreadyExists"
	CodeParameterLimitExceeded   = "ParameterLimitExceeded"
	CodeMaxVersionLimitExceeded  = "ParameterMaxVersionLimitExceeded"
	CodePatternMismatch          = "ParameterPatternMismatchException"
	CodeInvalidAllowedPattern    = "InvalidAllowedPatternException"
	CodeHierarchyLevelLimit      = "HierarchyLevelLimitExceededException"
	CodeInvalidKeyID             = "InvalidKeyId"
	CodePoliciesLimitExceeded    = "PoliciesLimitExceededException"
	CodeInvalidPolicyType        = "InvalidPolicyTypeException"
	CodeInvalidPolicyAttribute   = "InvalidPolicyAttributeException"
	CodeIncompatiblePolicy       = "IncompatiblePolicyException"
	CodeLabelLimitExceeded       = "ParameterVersionLabelLimitExceeded"
	CodeInvalidFilterKey         = "InvalidFilterKey"
	CodeInvalidFilterOption      = "InvalidFilterOption"
	CodeInvalidFilterValue       = "InvalidFilterValue"
	CodeInvalidNextToken         = "InvalidNextToken"
	CodeInvalidResourceType      = "InvalidResourceType"
	CodeInvalidResourceID        = "InvalidResourceId"
	CodeTooManyTags              = "TooManyTagsError"
	CodeTooManyUpdates           = "TooManyUpdates"
	CodeServiceSettingNotFound   = "ServiceSettingNotFound"
	CodeAccessDenied             = "AccessDeniedException"
	CodeThrottling               = "ThrottlingException"
	CodeInternal                 = "InternalServerError"
	CodeUnknownOperation         = "UnknownOperationException"
	CodeSerialization            = "SerializationException"
	CodeRequestTooLarge          = "RequestEntityTooLargeException"
)

// CodeServiceUnavailable (HTTP 503) is AWS's common error for "a
// temporary failure of the server": here, a node that has no leader or
// is too stale to serve. SDKs retry it because of its status, as they
// retry every 500, 502, 503 and 504: aws-sdk-go-v2
// (retry.DefaultRetryableHTTPStatusCodes), botocore in standard mode
// (TransientRetryableChecker) and in legacy mode, the aws CLI v1's
// default ("service_unavailable" in _retry.json). Unlike
// ThrottlingException it does not tell clients that they sent too much,
// and unlike InternalServerError it does not report a server bug.
const CodeServiceUnavailable = "ServiceUnavailable"

// messageMember is the JSON member that carries the message of each error,
// cased as in the botocore model. An empty string means the model defines no
// member, so no message is sent. Codes absent from the table use "message".
var messageMember = map[string]string{
	CodeValidation:             "Message",
	CodeInvalidFilterValue:     "Message",
	CodeInvalidNextToken:       "Message",
	CodeTooManyUpdates:         "Message",
	CodeServiceSettingNotFound: "Message",
	CodeAccessDenied:           "Message",
	CodeThrottling:             "Message",
	CodeInternal:               "Message",
	CodeServiceUnavailable:     "Message",
	CodeSerialization:          "Message",
	CodeInvalidResourceType:    "",
	CodeInvalidResourceID:      "",
	CodeTooManyTags:            "",
	CodeUnknownOperation:       "",
	CodeInvalidFilterKey:       "message",
}

// statusOf maps codes to HTTP statuses; every code not listed is a 400.
var statusOf = map[string]int{
	CodeInternal:           http.StatusInternalServerError,
	CodeServiceUnavailable: http.StatusServiceUnavailable,
	CodeRequestTooLarge:    http.StatusRequestEntityTooLarge,
}

// Error is an AWS-shaped API error: a code, a message that is safe to show to
// the caller, and an optional cause that is never serialized.
type Error struct {
	Code    string
	Message string
	// NoMessage suppresses the message member entirely, as AWS does for
	// ParameterNotFound ({"__type":"ParameterNotFound"}).
	NoMessage bool
	// Status overrides the HTTP status of the code when non-zero.
	Status int
	// Redacted, when not empty, is Message without the request values it
	// echoes: what records that outlive the call (the audit trail) keep
	// instead of Message, which only the caller sees.
	Redacted string
	cause    error
}

// RecordedMessage is the message to keep in records: Redacted if set,
// else Message.
func (e *Error) RecordedMessage() string {
	if e.Redacted != "" {
		return e.Redacted
	}
	return e.Message
}

// Error is what operators see of e (logs, wrapped errors): the code, the
// message, and the internal cause that the caller never sees, as upspin's
// errors print the error they wrap. The wire shows only Code and Message
// (MessageMember).
func (e *Error) Error() string {
	s := "ssm: " + e.Code
	if !e.NoMessage && e.Message != "" {
		s += ": " + e.Message
	}
	if e.cause != nil {
		s += " (cause: " + e.cause.Error() + ")"
	}
	return s
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.cause }

// HTTPStatus is the status the error is answered with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	if s, ok := statusOf[e.Code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// MessageMember returns the JSON member name for the message and whether a
// message is sent at all.
func (e *Error) MessageMember() (string, bool) {
	if e.NoMessage {
		return "", false
	}
	m, ok := messageMember[e.Code]
	if !ok {
		return "message", true
	}
	return m, m != ""
}

// Errorf builds an Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NewError builds an Error with a literal message.
func NewError(code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Bare builds an Error that carries no message member.
func Bare(code string) *Error { return &Error{Code: code, NoMessage: true} }

// Wrap builds an InternalServerError around an internal cause. The cause is
// logged by the API layer but never sent.
func Wrap(cause error) *Error {
	return &Error{Code: CodeInternal, Message: "An internal error occurred.", cause: cause}
}

// Unavailable builds a ServiceUnavailable error (HTTP 503, retried by the
// SDKs) around an internal cause, which is logged but never sent. The
// message is AWS's for this code.
func Unavailable(cause error) *Error {
	return &Error{Code: CodeServiceUnavailable, Message: "The request has failed due to a temporary failure of the server.", cause: cause}
}

// AsError returns the *Error in err's chain, or an InternalServerError
// wrapping err.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Wrap(err)
}

// Frequently used errors.

// ErrParameterNotFound is the message-less not-found answer.
func ErrParameterNotFound() *Error { return Bare(CodeParameterNotFound) }

// ErrVersionNotFound is the answer for a version that is not retained.
func ErrVersionNotFound(version int64, name string) *Error {
	return Errorf(CodeParameterVersionNotFound,
		"Systems Manager could not find version %d of %s. Verify the version and try again.", version, name)
}

// ErrInvalidNextToken is the answer for a bad pagination token.
func ErrInvalidNextToken() *Error {
	return NewError(CodeInvalidNextToken, "The specified token isn't valid.")
}

// ErrValidation is a ValidationException with a literal message.
func ErrValidation(msg string) *Error { return NewError(CodeValidation, msg) }
