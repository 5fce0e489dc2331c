"""Renders conformance cases with airspeed-ext (the engine LocalStack uses), for
bench/templates-vs-peers.sh. Usage: python airspeed-render.py BUDGET_MS CASE.json...
Prints one line per case: `NAME renders_per_sec=R median_slice_per_sec=M same_output=yes|no`
(R over the whole budget, M the median of its ten slices' rates).

$input, $util, $context and $stageVariables are small objects shaped like LocalStack's
(VelocityInput / VelocityUtil in its templating module): the body is JSON-parsed per render,
lazily, as our gateway does. The template is parsed once, outside the timed loop, as ours is
at config load.
"""
import base64
import json
import re
import statistics
import sys
import time
import urllib.parse

import airspeed

BATCH = 64  # renders between clock reads
SLICES = 10  # timed slices of the budget
PATH_STEP = re.compile(r"\.([A-Za-z_$][\w$-]*)|\['([^']*)'\]|\[(\d+)\]")


def json_path(root, path):
    """Simple JSONPath: `$`, `$.a.b`, `$['a']`, `$.a[0]` (all the doc templates use)."""
    v = root
    for m in PATH_STEP.finditer(path[1:] if path.startswith("$") else path):
        if v is None:
            return None
        try:
            v = v[int(m.group(3))] if m.group(3) is not None else v[m.group(1) or m.group(2)]
        except (KeyError, IndexError, TypeError):
            return None
    return v


class Input:
    def __init__(self, body_text, params):
        self.body = body_text or "{}"
        self._params = params
        self._parsed = None
        self._done = False

    def _root(self):
        if not self._done:
            self._done = True
            try:
                self._parsed = json.loads(self.body)
            except ValueError:
                self._parsed = None
        return self._parsed

    def path(self, p):
        return json_path(self._root(), p)

    def json(self, p):
        return json.dumps(json_path(self._root(), p), separators=(",", ":"))

    def params(self, name=None):
        if name is None:
            return self._params
        for src in ("path", "querystring", "header"):
            if name in self._params[src]:
                return self._params[src][name]
        return ""


class Util:
    def escapeJavaScript(self, s):
        return json.dumps(str(s))[1:-1].replace("'", "\\'")

    def parseJson(self, s):
        return json.loads(s)

    def urlEncode(self, s):
        return urllib.parse.quote_plus(str(s))

    def urlDecode(self, s):
        return urllib.parse.unquote_plus(str(s))

    def base64Encode(self, s):
        return base64.b64encode(str(s).encode()).decode()

    def base64Decode(self, s):
        return base64.b64decode(str(s)).decode()


def make_context(c):
    req = c.get("request") or {}
    ir = c.get("integration_response")
    body = (ir.get("body") if ir else req.get("body")) or ""
    query = {k: (v[-1] if isinstance(v, list) else v) for k, v in (req.get("query") or {}).items()}
    params = {
        "path": req.get("path_params") or {},
        "querystring": query,
        "header": req.get("headers") or {},
    }
    context = {
        "httpMethod": req.get("method"),
        "resourcePath": req.get("resource"),
        "path": req.get("path"),
        "requestOverride": {"header": {}, "path": {}, "querystring": {}},
        "responseOverride": {"header": {}},
    }
    context.update(json.loads(json.dumps(c.get("context") or {})))
    return {
        "input": Input(body, params),
        "util": Util(),
        "context": context,
        "stageVariables": c.get("stage_variables") or {},
    }


def same_output(c, out):
    if c.get("compare") == "none":
        return "n/a"
    if c.get("compare") == "json":
        try:
            return "yes" if json.loads(out) == json.loads(c["expected"]) else "no"
        except ValueError:
            return "no"
    return "yes" if out == c["expected"] else "no"


def main():
    budget = int(sys.argv[1]) / 1000.0
    for path in sys.argv[2:]:
        with open(path) as f:
            c = json.load(f)
        name = path.rsplit("/", 1)[-1][: -len(".json")]
        try:
            t = airspeed.Template(c["template"])
            out = t.merge(make_context(c))
            # SLICES equal slices of the budget, each timed on its own; the median slice
            # rate is what bench/templates-vs-peers.sh compares (a slow spell of the machine
            # moves one slice, not the median).
            slice_s = budget / SLICES
            rates = []
            n = 0
            start = time.perf_counter()
            now = start
            for _ in range(SLICES):
                slice_start = now
                k = 0
                while now - slice_start < slice_s:
                    for _ in range(BATCH):
                        t.merge(make_context(c))
                    k += BATCH
                    now = time.perf_counter()
                rates.append(k / (now - slice_start))
                n += k
            rate = n / (now - start)
            median_slice = statistics.median(rates)
        except Exception as e:  # a template the engine cannot run is a result too
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            print(f"{name} renders_per_sec=error same_output=no ({first})")
            continue
        print(
            f"{name} renders_per_sec={rate:.0f} median_slice_per_sec={median_slice:.0f} "
            f"same_output={same_output(c, out)}"
        )


if __name__ == "__main__":
    main()
