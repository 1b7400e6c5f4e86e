// Package policy parses and evaluates IAM identity-based policies for the
// actions and resources of Parameter Store, the way AWS does.
//
// # Documents
//
// Parse accepts the IAM JSON policy language: an object with an optional
// Version ("2012-10-17", or "2008-10-17" which is assumed when Version is
// missing), an optional Id and a Statement that is one statement object or
// a non-empty array of them. Each statement has an optional Sid (ASCII
// letters and digits, unique in the policy), an Effect of "Allow" or
// "Deny", exactly one of Action and NotAction, exactly one of Resource and
// NotResource, and an optional Condition. Principal and NotPrincipal are
// rejected, as are unknown elements, duplicate JSON keys, documents larger
// than MaxDocumentSize and nesting deeper than MaxDepth. Every problem is
// reported as a *ParseError whose message is safe to show to users; AWS
// calls this MalformedPolicyDocument.
//
// # Matching
//
// Actions ("ssm:GetParameter") are matched case-insensitively (they are
// ASCII), resources (ARNs) case-sensitively. In both, '*' matches any run of characters,
// including '/' and ':', and '?' matches exactly one character. Under
// Version 2012-10-17, a Resource or a string or ARN condition value may
// hold policy variables: ${key} is replaced by the single value of the
// condition key in the request context, and ${key, 'default'} falls back to
// the default (a single quote inside it is doubled). A variable whose key is
// missing or multi-valued, without a default, makes the value match
// nothing. ${*}, ${?} and ${$} stand for a literal '*', '?' and '$'.
// Substituted text is always literal.
//
// # Evaluation
//
// Evaluate follows the AWS logic for identity-based policies. A statement
// applies to a request when
//
//   - its Action list matches the action (for NotAction: no entry matches),
//   - its Resource list matches the resource (for NotResource: no entry
//     matches), and
//   - every condition holds.
//
// Then, across all the policies given:
//
//  1. if any Deny statement applies, the result is ExplicitDeny;
//  2. otherwise, if any Allow statement applies, the result is Allow;
//  3. otherwise the result is ImplicitDeny, the default.
//
// # Conditions
//
// A Condition block maps operators to {key: values}. All operators must
// hold, and within an operator all keys must hold (AND). A key holds when
// the request value matches any of the policy values (OR). Condition keys
// are looked up in Request.Context case-insensitively; the package knows no
// key names itself. The operators are StringEquals, StringNotEquals,
// StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike,
// StringNotLike, NumericEquals, NumericNotEquals, NumericLessThan,
// NumericLessThanEquals, NumericGreaterThan, NumericGreaterThanEquals,
// DateEquals, DateNotEquals, DateLessThan, DateLessThanEquals,
// DateGreaterThan, DateGreaterThanEquals (ISO 8601 or epoch seconds), Bool,
// IpAddress, NotIpAddress (IPv4 or IPv6 address or CIDR block), ArnEquals,
// ArnNotEquals, ArnLike, ArnNotLike (each of the six colon-separated ARN
// components matched separately, with wildcards, for both Equals and Like),
// and Null. Policy values that are JSON numbers or booleans are read as
// strings; values for numeric, date, Bool, IP, Null and literal ARN
// operators are validated by Parse.
//
// Without a set qualifier:
//
//   - a positive operator holds when some request value matches some
//     policy value, and fails when the key is missing;
//   - a negated operator (Not...) holds when no request value matches any
//     policy value, and holds when the key is missing;
//   - the ...IfExists form of any operator holds when the key is missing;
//   - Null with "true" holds when the key is missing, with "false" when it
//     is present.
//
// With ForAllValues: the operator holds when every request value passes
// (matches some policy value; for a negated operator, matches none),
// including when the key is missing. With ForAnyValue: it holds when at
// least one request value passes, and fails when the key is missing unless
// the IfExists form is used. A request value that does not parse for the
// operator (a non-number for Numeric..., say) matches no policy value.
package policy
