// Renders conformance cases with velocityjs (the engine serverless-offline uses), for
// bench/templates-vs-peers.sh. Usage: node velocityjs-render.js BUDGET_MS CASE.json...
// Prints one line per case: `NAME renders_per_sec=R median_slice_per_sec=M same_output=yes|no`
// (R over the whole budget, M the median of its ten slices' rates).
//
// $input, $util, $context and $stageVariables are plain objects built the way
// serverless-offline builds them (its renderVelocityTemplateObject / createVelocityContext):
// the body is JSON-parsed per render, lazily, as our gateway does. The template is parsed and
// compiled once, outside the timed loop, as ours is at config load.
'use strict';
const fs = require('fs');
const { parse, Compile } = require('velocityjs');

const BATCH = 64; // renders between clock reads
const SLICES = 10; // timed slices of the budget

// Simple JSONPath: `$`, `$.a.b`, `$['a']`, `$.a[0]` (all the doc templates use).
function jsonPath(root, path) {
  let v = root;
  const re = /\.([A-Za-z_$][\w$-]*)|\['([^']*)'\]|\[(\d+)\]/g;
  let m;
  const rest = path.replace(/^\$/, '');
  while ((m = re.exec(rest)) !== null) {
    if (v === null || v === undefined) return undefined;
    v = v[m[1] !== undefined ? m[1] : m[2] !== undefined ? m[2] : Number(m[3])];
  }
  return v;
}

function makeContext(c) {
  const req = c.request || {};
  const ir = c.integration_response;
  const bodyText = ir ? ir.body || '' : req.body || '';
  let parsed;
  let done = false;
  const body = () => {
    if (!done) {
      done = true;
      try { parsed = JSON.parse(bodyText || '{}'); } catch (e) { parsed = undefined; }
    }
    return parsed;
  };
  const first = (v) => (Array.isArray(v) ? v[v.length - 1] : v);
  const query = {};
  for (const [k, v] of Object.entries(req.query || {})) query[k] = first(v);
  const params = { path: req.path_params || {}, querystring: query, header: req.headers || {} };
  const input = {
    body: bodyText || '{}',
    path: (p) => jsonPath(body(), p),
    json: (p) => JSON.stringify(jsonPath(body(), p)),
    params: (name) => {
      if (name === undefined) return params;
      for (const src of [params.path, params.querystring, params.header]) {
        if (src[name] !== undefined) return src[name];
      }
      return '';
    },
  };
  const util = {
    escapeJavaScript: (s) => JSON.stringify(String(s)).slice(1, -1).replace(/'/g, "\\'"),
    parseJson: (s) => JSON.parse(s),
    urlEncode: (s) => encodeURIComponent(s),
    urlDecode: (s) => decodeURIComponent(s),
    base64Encode: (s) => Buffer.from(String(s)).toString('base64'),
    base64Decode: (s) => Buffer.from(String(s), 'base64').toString(),
  };
  const context = Object.assign(
    {
      httpMethod: req.method,
      resourcePath: req.resource,
      path: req.path,
      requestOverride: { header: {}, path: {}, querystring: {} },
      responseOverride: { header: {} },
    },
    JSON.parse(JSON.stringify(c.context || {}))
  );
  return { input, util, context, stageVariables: c.stage_variables || {} };
}

function sameOutput(c, out) {
  if (c.compare === 'none') return 'n/a';
  if (c.compare === 'json') {
    try {
      return JSON.stringify(JSON.parse(out)) === JSON.stringify(JSON.parse(c.expected)) ? 'yes' : 'no';
    } catch (e) {
      return 'no';
    }
  }
  return out === c.expected ? 'yes' : 'no';
}

const budget = Number(process.argv[2]);
for (const file of process.argv.slice(3)) {
  const c = JSON.parse(fs.readFileSync(file, 'utf8'));
  const name = file.split('/').pop().replace(/\.json$/, '');
  let out = '';
  let rate = 0;
  let medianSlice = 0;
  try {
    const compiled = new Compile(parse(c.template), { escape: false });
    out = compiled.render(makeContext(c));
    // SLICES equal slices of the budget, each timed on its own; the median slice rate is
    // what bench/templates-vs-peers.sh compares (a slow spell of the machine, or the JIT's
    // warm-up, moves one slice, not the median).
    const slice = (BigInt(budget) * 1000000n) / BigInt(SLICES);
    const rates = [];
    let n = 0;
    const start = process.hrtime.bigint();
    let now = start;
    for (let s = 0; s < SLICES; s++) {
      const sliceStart = now;
      let k = 0;
      while (now - sliceStart < slice) {
        for (let i = 0; i < BATCH; i++) compiled.render(makeContext(c));
        k += BATCH;
        now = process.hrtime.bigint();
      }
      rates.push(k / (Number(now - sliceStart) / 1e9));
      n += k;
    }
    rate = n / (Number(now - start) / 1e9);
    rates.sort((x, y) => x - y);
    const m = rates.length;
    medianSlice = m % 2 ? rates[(m - 1) / 2] : (rates[m / 2 - 1] + rates[m / 2]) / 2;
  } catch (e) {
    console.log(`${name} renders_per_sec=error same_output=no (${String(e.message).split('\n')[0]})`);
    continue;
  }
  console.log(
    `${name} renders_per_sec=${rate.toFixed(0)} median_slice_per_sec=${medianSlice.toFixed(0)} ` +
      `same_output=${sameOutput(c, out)}`
  );
}
