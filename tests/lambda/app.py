"""Handlers for tests/lambda.rs, run by the official runtime interface client
(python3 -m awslambdaric app.NAME) under Tollgate's local function host."""
import base64
import json
import os
import time

# Set at import: tells a cold start (new process) from a warm one.
STARTED = time.time()


def echo(event, context):
    """Returns the proxy event it received as the body (conformance proxy-event 001-012)."""
    return {"statusCode": 200, "body": json.dumps(event)}


def result(event, context):
    """Returns the JSON the client POSTed as the proxy result (proxy-event 014-032)."""
    body = event.get("body")
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)


def select(event, context):
    """Custom integration (errors 025-027): the status path parameter picks the outcome."""
    code = event["statusCode"]
    if code == "200":
        return "Pass"
    if code == "400":
        raise Exception("Error: Raising four hundred from within the Lambda function")
    raise Exception("Error: Raising five hundred from within the Lambda function")


def custom(event, context):
    """Custom integration with templates: returns what the request template produced."""
    return {"got": event, "fn": context.function_name}


def pid(event, context):
    """Sleeps a little and names its process, for concurrency and cold-start checks."""
    time.sleep(float((event.get("queryStringParameters") or {}).get("sleep", "0")))
    return {"statusCode": 200, "body": json.dumps({"pid": os.getpid(), "started": STARTED})}


def crash(event, context):
    """Exits the runtime process in the middle of an invocation."""
    os._exit(3)
