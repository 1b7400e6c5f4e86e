"""End-to-end checks of a Paramstore server with boto3's SSM client.

Run by tests/e2e/boto3_test.go. The endpoint comes from PARAMSTORE_ENDPOINT,
the credentials from boto3's default chain (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY set to the server's root access key).
Exits 0 and prints "BOTO3 E2E OK" when every check passes; on the first
failure prints "FAIL: <reason>" and exits 1.
"""

import os
import sys
import traceback

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError


class CheckFailed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def expect_error(code, fn, **kwargs):
    """Calls fn(**kwargs), which must fail with ClientError code."""
    try:
        fn(**kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        check(got == code, "%s(%r): got error code %r (%s), want %r" % (fn.__name__, kwargs, got, e, code))
        return e
    raise CheckFailed("%s(%r) succeeded, want error %s" % (fn.__name__, kwargs, code))


def paginate(ssm, op, **kwargs):
    """Runs a boto3 paginator, returning the list of pages' Parameters."""
    pages = []
    for page in ssm.get_paginator(op).paginate(**kwargs):
        check("Parameters" in page, "%s page without Parameters: %r" % (op, page))
        pages.append(page["Parameters"])
    return pages


def check_pages(op, pages, page_size, want, key):
    got = [key(item) for page in pages for item in page]
    check(len(pages) > 1, "%s: got %d page(s), want more than one with PageSize %d" % (op, len(pages), page_size))
    for i, page in enumerate(pages):
        check(len(page) <= page_size, "%s: page %d holds %d items, more than PageSize %d" % (op, i, len(page), page_size))
    dups = sorted({x for x in got if got.count(x) > 1})
    check(not dups, "%s: items returned more than once: %r" % (op, dups))
    missing = [x for x in want if x not in got]
    check(not missing, "%s: items missing: %r" % (op, missing))
    extra = [x for x in got if x not in want]
    check(not extra, "%s: unexpected items: %r" % (op, extra))
    check(got == want, "%s: items out of order:\n got %r\nwant %r" % (op, got, want))
    print("%s: %d items in %d pages of at most %d, in order" % (op, len(got), len(pages), page_size))


def main():
    endpoint = os.environ.get("PARAMSTORE_ENDPOINT")
    check(endpoint, "PARAMSTORE_ENDPOINT is not set")
    print("boto3 %s, botocore %s, endpoint %s" % (boto3.__version__, botocore.__version__, endpoint))
    check(os.environ.get("AWS_ACCESS_KEY_ID"), "AWS_ACCESS_KEY_ID is not set")
    config = Config(retries={"mode": "standard", "max_attempts": 2})
    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1", config=config)

    # 27 parameters under /boto/app: 20 direct children, 7 one level deeper.
    direct = ["/boto/app/p%02d" % i for i in range(20)]
    nested = ["/boto/app/sub/s%02d" % i for i in range(7)]
    for name in direct + nested:
        out = ssm.put_parameter(Name=name, Value="value of " + name, Type="String")
        check(out["Version"] == 1, "put_parameter(%s): got Version %r, want 1" % (name, out["Version"]))
    everything = sorted(direct + nested)

    # get_parameters_by_path, recursive and not, with small pages.
    pages = paginate(ssm, "get_parameters_by_path", Path="/boto/app", Recursive=True,
                     PaginationConfig={"PageSize": 4})
    check_pages("get_parameters_by_path(Recursive=True)", pages, 4, everything, lambda p: p["Name"])
    for page in pages:
        for p in page:
            check(p["Value"] == "value of " + p["Name"], "get_parameters_by_path: %s has Value %r" % (p["Name"], p["Value"]))
    pages = paginate(ssm, "get_parameters_by_path", Path="/boto/app", Recursive=False,
                     PaginationConfig={"PageSize": 3})
    check_pages("get_parameters_by_path(Recursive=False)", pages, 3, sorted(direct), lambda p: p["Name"])

    # describe_parameters with a filter, small pages.
    pages = paginate(ssm, "describe_parameters",
                     ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": ["/boto/app/"]}],
                     PaginationConfig={"PageSize": 5})
    check_pages("describe_parameters(Name BeginsWith /boto/app/)", pages, 5, everything, lambda p: p["Name"])
    pages = paginate(ssm, "describe_parameters",
                     ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": ["/boto/app"]}],
                     PaginationConfig={"PageSize": 6})
    check_pages("describe_parameters(Path Recursive /boto/app)", pages, 6, everything, lambda p: p["Name"])

    # 65 versions of one parameter, then its history in small pages.
    hist = "/boto/history/param"
    nversions = 65
    for v in range(1, nversions + 1):
        kwargs = {"Name": hist, "Value": "v%03d" % v}
        if v == 1:
            kwargs["Type"] = "String"
        else:
            kwargs["Overwrite"] = True
        out = ssm.put_parameter(**kwargs)
        check(out["Version"] == v, "put_parameter(%s) #%d: got Version %r, want %d" % (hist, v, out["Version"], v))
    pages = paginate(ssm, "get_parameter_history", Name=hist, PaginationConfig={"PageSize": 7})
    check_pages("get_parameter_history", pages, 7, list(range(1, nversions + 1)), lambda p: p["Version"])
    for page in pages:
        for p in page:
            check(p["Value"] == "v%03d" % p["Version"],
                  "get_parameter_history: version %d has Value %r" % (p["Version"], p["Value"]))
    cur = ssm.get_parameter(Name=hist)["Parameter"]
    check(cur["Version"] == nversions and cur["Value"] == "v%03d" % nversions,
          "get_parameter(%s): got version %r value %r" % (hist, cur["Version"], cur["Value"]))
    old = ssm.get_parameter(Name=hist + ":3")["Parameter"]
    check(old["Version"] == 3 and old["Value"] == "v003" and old.get("Selector") == ":3",
          "get_parameter(%s:3): got %r" % (hist, old))

    # SecureString round trip.
    secret_name = "/boto/secure/token"
    secret = "t0p-s3cret/\u00e9\u00e8 value"
    ssm.put_parameter(Name=secret_name, Value=secret, Type="SecureString")
    enc = ssm.get_parameter(Name=secret_name)["Parameter"]
    check(enc["Type"] == "SecureString", "SecureString: got Type %r" % enc["Type"])
    check(enc["Value"] and enc["Value"] != secret and secret not in enc["Value"],
          "SecureString without decryption: got Value %r, want ciphertext" % enc["Value"])
    dec = ssm.get_parameter(Name=secret_name, WithDecryption=True)["Parameter"]
    check(dec["Value"] == secret, "SecureString with decryption: got %r, want %r" % (dec["Value"], secret))
    many = ssm.get_parameters(Names=[secret_name, "/boto/app/p00"], WithDecryption=True)
    vals = {p["Name"]: p["Value"] for p in many["Parameters"]}
    check(vals.get(secret_name) == secret, "get_parameters WithDecryption: got %r" % vals)
    check(many["InvalidParameters"] == [], "get_parameters: InvalidParameters %r" % many["InvalidParameters"])
    by_path = ssm.get_parameters_by_path(Path="/boto/secure", WithDecryption=True)["Parameters"]
    check([p["Value"] for p in by_path] == [secret], "get_parameters_by_path WithDecryption: got %r" % by_path)
    hist_items = ssm.get_parameter_history(Name=secret_name)["Parameters"]
    check(len(hist_items) == 1 and hist_items[0]["Value"] != secret and hist_items[0].get("KeyId"),
          "get_parameter_history of a SecureString without decryption: got %r" % hist_items)

    # Errors.
    e = expect_error("ParameterNotFound", ssm.get_parameter, Name="/boto/does/not/exist")
    check(e.response["Error"].get("Message", "") == "",
          "ParameterNotFound from get_parameter: got message %r, want none" % e.response["Error"].get("Message"))
    check(str(e) == "An error occurred (ParameterNotFound) when calling the GetParameter operation: ",
          "ParameterNotFound renders as %r" % str(e))
    expect_error("ParameterNotFound", ssm.get_parameter_history, Name="/boto/does/not/exist")
    expect_error("ParameterNotFound", ssm.delete_parameter, Name="/boto/does/not/exist")
    e = expect_error("ParameterAlreadyExists", ssm.put_parameter, Name="/boto/app/p00", Value="x", Type="String")
    check("overwrite" in e.response["Error"].get("Message", ""),
          "ParameterAlreadyExists: got message %r" % e.response["Error"].get("Message"))
    expect_error("ValidationException", ssm.get_parameters_by_path, Path="/boto/app", MaxResults=11)
    expect_error("ValidationException", ssm.put_parameter, Name="/boto/app/p00", Value="x", Overwrite=True,
                 Tags=[{"Key": "k", "Value": "v"}])
    expect_error("ValidationException", ssm.put_parameter, Name="/boto//bad", Value="x", Type="String")
    expect_error("ValidationException", ssm.put_parameter, Name="/boto/new/untyped", Value="x")
    expect_error("ParameterVersionNotFound", ssm.get_parameter, Name=hist + ":%d" % (nversions + 1))
    expect_error("InvalidNextToken", ssm.get_parameters_by_path, Path="/boto/app", NextToken="not-a-token")

    # Authentication: a key the server does not know is refused.
    stranger = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1", config=config,
                            aws_access_key_id="AKIDE2EUNKNOWNKEY000", aws_secret_access_key="dummy-secret")
    expect_error("UnrecognizedClientException", stranger.get_parameter, Name="/boto/app/p00")

    print("BOTO3 E2E OK")


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as e:
        print("FAIL: %s" % e)
        sys.exit(1)
    except Exception:
        traceback.print_exc()
        print("FAIL: unexpected exception (traceback above)")
        sys.exit(1)
