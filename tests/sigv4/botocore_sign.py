#!/usr/bin/env python3
"""Signs requests with botocore, for Tollgate's SigV4 tests to compare against byte for byte.

Reads one JSON object per line on stdin and prints one JSON object per line on stdout.

  {"kind": "invoke", "function": ..., "qualifier": null|str, "invocation_type": null|str,
   "payload_b64": str, "region": str, "access_key": str, "secret_key": str,
   "token": null|str, "time": "YYYYMMDDTHHMMSSZ", "endpoint": "http://host:port"}
      Sends lambda.invoke() through a real botocore client (its serializer builds the path,
      query and headers) and captures the signed request before it leaves.
  {"kind": "raw", "method": ..., "url": ..., "headers": [[name, value], ...],
   "payload_b64": str, "service": str, ... credentials, region, time as above}
      Signs exactly that request with botocore.auth.SigV4Auth.

Output: {"path": wire path, "query": wire query, "headers": {name: value} (signed request),
         "authorization": str, "canonical_request": str}
"""
import base64
import datetime
import json
import sys
from unittest import mock
from urllib.parse import urlsplit

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.session


def fixed_time(stamp):
    t = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
    return t.replace(tzinfo=datetime.timezone.utc)


def credentials(case):
    return botocore.credentials.Credentials(
        case["access_key"], case["secret_key"], case.get("token")
    )


def result(request, auth):
    parts = urlsplit(request.url)
    return {
        "path": parts.path,
        "query": parts.query,
        "headers": {
            k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()
        },
        "authorization": _text(request.headers["Authorization"]),
        "canonical_request": auth.canonical_request(request) if auth else None,
    }


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


class Captured(Exception):
    pass


def sign_invoke(case):
    session = botocore.session.get_session()
    c = credentials(case)
    session.set_credentials(c.access_key, c.secret_key, c.token)
    client = session.create_client(
        "lambda", region_name=case["region"], endpoint_url=case["endpoint"]
    )
    seen = {}

    def before_send(request, **_):
        seen["request"] = request
        raise Captured()

    client.meta.events.register("before-send", before_send)
    args = {"FunctionName": case["function"], "Payload": base64.b64decode(case["payload_b64"])}
    if case.get("qualifier") is not None:
        args["Qualifier"] = case["qualifier"]
    if case.get("invocation_type") is not None:
        args["InvocationType"] = case["invocation_type"]
    with mock.patch.object(botocore.auth, "get_current_datetime", lambda: fixed_time(case["time"])):
        try:
            client.invoke(**args)
        except Captured:
            pass
    request = seen["request"]
    out = result(request, None)
    # The canonical request as botocore computed it, for a readable diff when a test fails.
    auth = botocore.auth.SigV4Auth(c, "lambda", case["region"])
    signed = out["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    copy = botocore.awsrequest.AWSRequest(
        method=request.method,
        url=request.url,
        headers={k: _text(v) for k, v in request.headers.items() if k.lower() in signed},
        data=request.body,
    )
    copy.context["timestamp"] = case["time"]
    out["canonical_request"] = auth.canonical_request(copy)
    return out


def sign_raw(case):
    c = credentials(case)
    request = botocore.awsrequest.AWSRequest(
        method=case["method"],
        url=case["url"],
        headers={},
        data=base64.b64decode(case["payload_b64"]),
    )
    for name, value in case["headers"]:
        # HTTPHeaders appends on assignment, so repeated names stay repeated.
        request.headers[name] = value
    auth = botocore.auth.SigV4Auth(c, case.get("service", "lambda"), case["region"])
    with mock.patch.object(botocore.auth, "get_current_datetime", lambda: fixed_time(case["time"])):
        auth.add_auth(request)
    authorization = request.headers["Authorization"]
    # The canonical request as botocore built it, without the header it then added.
    del request.headers["Authorization"]
    canonical = auth.canonical_request(request)
    request.headers["Authorization"] = authorization
    out = result(request, None)
    out["canonical_request"] = canonical
    return out


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        out = sign_invoke(case) if case["kind"] == "invoke" else sign_raw(case)
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
