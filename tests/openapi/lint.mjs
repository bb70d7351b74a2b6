// SPDX-License-Identifier: MIT
// Parley - lints openapi/openapi.yaml with the pinned @redocly/cli (recommended rules).
// Copyright (c) 2026 Parley developers
//
// Usage: node lint.mjs [SPEC]   (SPEC defaults to ../../openapi/openapi.yaml next to this file)
// Needs `npm ci` in this directory first. Warnings fail the check as well as errors: the document
// is kept at zero of both, and an intended exception goes into .redocly.lint-ignore.yaml with a
// comment saying why, so a new warning is always a regression someone has to look at.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const spec = resolve(process.argv[2] ?? join(here, '../../openapi/openapi.yaml'));
const redocly = join(here, 'node_modules/.bin/redocly');

function finish(ok, lines)
{
    for (const line of lines)
        console.log(line);
    console.log(`openapi-lint: ${ok ? 1 : 0} passed, ${ok ? 0 : 1} failed`);
    process.exit(ok ? 0 : 1);
}

if (!existsSync(redocly))
    finish(false, [`openapi-lint: ${redocly} is missing; run \`npm ci\` in ${here}`]);

// Run from this directory so redocly finds redocly.yaml and .redocly.lint-ignore.yaml, whose
// entries name the spec relative to here. Telemetry and update checks would reach the network.
const run = spawnSync(redocly, ['lint', spec, '--config', 'redocly.yaml', '--format', 'json',
                                '--max-problems', '1000'], {
    cwd: here,
    encoding: 'utf8',
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
           NO_COLOR: '1' },
    maxBuffer: 64 << 20,
});

let report;
try {
    report = JSON.parse(run.stdout);
} catch {
    // No JSON means redocly itself failed (unreadable file, bad config): show what it said.
    // Node 20 makes redocly print a boxed deprecation banner on stderr; it is noise here.
    const said = `${run.stdout}\n${run.stderr}`.split('\n')
        .filter((l) => l.trim() !== '' && !/[\u2550-\u256c]/.test(l));
    finish(false, [`openapi-lint: redocly exited with ${run.status ?? run.signal}`,
                   ...(run.error ? [String(run.error)] : []), ...said]);
}

const lines = [];
for (const p of report.problems ?? []) {
    const loc = p.location?.[0] ?? {};
    const file = loc.source?.ref ?? spec;
    const where = loc.start ? `${file}:${loc.start.line}:${loc.start.col}` : file;
    lines.push(`${p.severity} ${p.ruleId} ${where} ${loc.pointer ?? ''}`);
    lines.push(`    ${p.message}`);
}
const { errors = 0, warnings = 0, ignored = 0 } = report.totals ?? {};
lines.push(`openapi-lint: ${spec}: ${errors} errors, ${warnings} warnings, ${ignored} ignored ` +
           `(redocly ${report.version ?? '?'})`);
finish(run.status === 0 && errors === 0 && warnings === 0, lines);
