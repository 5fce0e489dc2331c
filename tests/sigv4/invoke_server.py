#!/usr/bin/env python3
"""A local Lambda Invoke API for Tollgate's tests; every request's SigV4 is checked by botocore.

Usage: invoke_server.py ACCESS_KEY SECRET_KEY REGION [TOKEN] [--max-seconds N]
Prints `PORT <n>` once listening on 127.0.0.1, then answers
POST /2015-03-31/functions/{FunctionName}/invocations[?Qualifier=q] as Lambda does:

  signature wrong           403 InvalidSignatureException, Lambda's message with botocore's
                            canonical request and string to sign
  unknown key / bad token   403 UnrecognizedClientException
  X-Amz-Date off by > 5 min 403 InvalidSignatureException "Signature expired: ..."
  function `echo`           200, the payload back, X-Amz-Executed-Version
  function `fail`           200, X-Amz-Function-Error: Unhandled, an error document
  function `throttle`       429 TooManyRequestsException (Reason ReservedFunction...)
  any other function        404 ResourceNotFoundException
  X-Amz-Invocation-Type     Event → 202 (empty), DryRun → 204, RequestResponse as above

The function name may be a plain name or a full/partial ARN; the last `:`-free part before a
qualifier is the name matched. Every signed answer carries `X-Test-Signature: botocore-ok`.
Stops by itself after --max-seconds (default 300).
"""
import datetime
import hashlib
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

import botocore.auth
import botocore.awsrequest
import botocore.credentials

ACCESS_KEY, SECRET_KEY, REGION = sys.argv[1], sys.argv[2], sys.argv[3]
TOKEN = sys.argv[4] if len(sys.argv) > 4 and not sys.argv[4].startswith("--") else None
MAX_SECONDS = 300
if "--max-seconds" in sys.argv:
    MAX_SECONDS = int(sys.argv[sys.argv.index("--max-seconds") + 1])
SKEW = datetime.timedelta(minutes=5)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, kind, message, extra=None):
        doc = {"Type": "User", "message": message}
        doc.update(extra or {})
        self.answer(
            status,
            json.dumps(doc).encode(),
            [("Content-Type", "application/json"), ("x-amzn-ErrorType", kind)],
        )

    def verify(self, body):
        """None when the signature is right, else (status, type, message)."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return 403, "MissingAuthenticationTokenException", "Missing Authentication Token"
        fields = dict(
            part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(",")
        )
        scope = fields.get("Credential", "").split("/")
        signed = fields.get("SignedHeaders", "").split(";")
        if scope[0] != ACCESS_KEY or (TOKEN and self.headers.get("X-Amz-Security-Token") != TOKEN):
            return 403, "UnrecognizedClientException", "The security token included in the request is invalid."
        if "host" not in signed or "x-amz-date" not in signed:
            return 403, "InvalidSignatureException", "host and x-amz-date must be signed"
        if TOKEN and "x-amz-security-token" not in signed:
            return 403, "InvalidSignatureException", "x-amz-security-token must be signed"
        stamp = self.headers.get("X-Amz-Date", "")
        when = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc
        )
        now = datetime.datetime.now(datetime.timezone.utc)
        if abs(now - when) > SKEW:
            return 403, "InvalidSignatureException", f"Signature expired: {stamp} is now earlier than ..."
        if scope[1:] != [stamp[:8], REGION, "lambda", "aws4_request"]:
            return 403, "InvalidSignatureException", f"Credential should be scoped to a valid region: {scope}"
        request = botocore.awsrequest.AWSRequest(
            method=self.command,
            url="http://" + self.headers["Host"] + self.path,
            headers={k: v for k, v in self.headers.items() if k.lower() in signed},
            data=body,
        )
        request.context["timestamp"] = stamp
        signer = botocore.auth.SigV4Auth(
            botocore.credentials.Credentials(ACCESS_KEY, SECRET_KEY, TOKEN), "lambda", REGION
        )
        creq = signer.canonical_request(request)
        sts = signer.string_to_sign(request, creq)
        if signer.signature(sts, request) != fields.get("Signature"):
            return (
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method. Consult the service "
                "documentation for details.\n\nThe Canonical String for this request should have "
                f"been\n'{creq}'\n\nThe String-to-Sign should have been\n'{sts}'\n",
            )
        return None

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        segments = parts.path.split("/")
        if len(segments) != 5 or segments[1:3] != ["2015-03-31", "functions"] or segments[4] != "invocations":
            return self.error(404, "UnknownOperationException", "Unknown operation")
        failure = self.verify(body)
        if failure:
            return self.error(*failure)
        signed = [("X-Test-Signature", "botocore-ok")]
        function = unquote(segments[3])
        qualifier = dict(parse_qsl(parts.query)).get("Qualifier")
        name = function.split(":function:")[-1].split(":")[0] if ":function:" in function else function.split(":")[0]
        if name == "throttle":
            return self.error(
                429,
                "TooManyRequestsException",
                "Rate Exceeded.",
                {"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"},
            )
        if name not in ("echo", "fail"):
            arn = f"arn:aws:lambda:{REGION}:123456789012:function:{name}"
            return self.error(404, "ResourceNotFoundException", f"Function not found: {arn}")
        kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if kind == "Event":
            return self.answer(202, b"", signed)
        if kind == "DryRun":
            return self.answer(204, b"", signed)
        version = [("X-Amz-Executed-Version", qualifier or "$LATEST")]
        digest = [("X-Test-Payload-Sha256", hashlib.sha256(body).hexdigest())]
        if name == "fail":
            doc = {"errorMessage": "boom", "errorType": "Exception", "stackTrace": []}
            return self.answer(
                200,
                json.dumps(doc).encode(),
                signed + version + digest + [("X-Amz-Function-Error", "Unhandled"), ("Content-Type", "application/json")],
            )
        return self.answer(200, body, signed + version + digest + [("Content-Type", "application/json")])


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=lambda: (time.sleep(MAX_SECONDS), server.shutdown()), daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
