// Read a TAP file with node-tap's tap-parser (a TAP 14 parser) and print what it understood as
// JSON: counts, plan, parse failures and every test point with its YAML diagnostics.
'use strict';
const fs = require('fs');
const path = require('path');
const { Parser } = require(path.join(__dirname, 'report-tools', 'node_modules', 'tap-parser'));

const points = [];
const extra = [];
const p = new Parser({ strict: true }, (res) => {
  const out = {
    ok: res.ok,
    count: res.count,
    pass: res.pass,
    fail: res.fail,
    skip: res.skip,
    todo: res.todo,
    plan: { start: res.plan.start, end: res.plan.end },
    // parse errors (bad plan, version, YAML) appear as failures carrying tapError
    errors: (res.failures || []).filter((f) => f.tapError).map((f) => f.tapError),
    extra,
    points,
  };
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
});
p.on('version', (v) => { p.version = v; });
p.on('assert', (a) => {
  points.push({ id: a.id, ok: a.ok, name: a.name, skip: a.skip || false, todo: a.todo || false,
    diag: a.diag || null });
});
p.on('extra', (e) => extra.push(e));
p.end(fs.readFileSync(process.argv[2]));
