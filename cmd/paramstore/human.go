package main

import (
	"errors"
	"fmt"
	"net"

	"github.com/aws/smithy-go"

	"github.com/paramstore/paramstore/internal/httpclient"
)

// Exit codes of the human commands (get, put, ls, tree, history, diff,
// rollback), documented in the README: a script can tell "no such
// parameter" from "not allowed" from "no server" without parsing text.
const (
	exitError        = 1 // any other failure
	exitUsage        = 2 // bad arguments or flags
	exitNotFound     = 3 // ParameterNotFound, ParameterVersionNotFound
	exitDenied       = 4 // AccessDeniedException, unknown key, bad signature, expired token
	exitNoConnection = 5 // the endpoint did not answer
)

// exitCodeError is an error with the process exit code it stands for.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return e.err.Error() }
func (e *exitCodeError) Unwrap() error { return e.err }

// exitCode is the process exit code for err (nil: 0).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	return exitError
}

// apiError turns an SDK error into "Code: sentence" with the exit code of
// its kind. subject names the parameter (or path) the call was about.
func apiError(err error, subject string) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg := ae.ErrorCode(), ae.ErrorMessage()
		exit := exitError
		switch code {
		case "ParameterNotFound":
			exit = exitNotFound
			if msg == "" {
				msg = "parameter " + subject + " does not exist."
			}
		case "ParameterVersionNotFound":
			exit = exitNotFound
			if msg == "" {
				msg = "that version of " + subject + " does not exist."
			}
		case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
			"ExpiredTokenException", "InvalidClientTokenId", "AccessDenied", "SignatureDoesNotMatch":
			exit = exitDenied
		}
		if msg == "" {
			msg = "the request on " + subject + " failed."
		}
		return &exitCodeError{code: exit, err: fmt.Errorf("%s: %s", code, msg)}
	}
	// The endpoint answered, with a certificate this client does not
	// trust or a demand for one: the error says what to do.
	var ce *httpclient.CAError
	var cce *httpclient.ClientCertError
	if errors.As(err, &ce) || errors.As(err, &cce) {
		return err
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) {
		return &exitCodeError{code: exitNoConnection, err: fmt.Errorf("no answer from the endpoint: %w", err)}
	}
	return err
}

// usageError marks err as a usage mistake (exit code 2).
func usageError(format string, a ...any) error {
	return &exitCodeError{code: exitUsage, err: fmt.Errorf(format, a...)}
}
