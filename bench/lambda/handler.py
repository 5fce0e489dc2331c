"""The function of the `lambda` benchmark scenario: the smallest useful proxy result, the same
body the peers' origin returns. Run by the official runtime interface client (awslambdaric)."""

BODY = '{"ok":true}'
RESULT = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": BODY}


def ok(event, context):
    return RESULT
