// SPDX-License-Identifier: MIT
// Parley - runs every crypto/testvectors/*.json vector through web/src/e2e under node.
// Copyright (c) 2026 Parley developers
//
// Usage: node tests/e2e-vectors.test.mjs   (last line: "web-e2e: N passed, N failed")
// Random draws are scripted as in tests/unit/crypto/e2e_vec.c: libsodium.js takes every random
// byte from Module.getRandomValue(), which the runner replaces while a step runs.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runVectors } from './e2e-vectors.lib.mjs';
import * as e2e from '../src/e2e/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const dir = join(here, '../../crypto/testvectors');
const files = {};
for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
  files[f] = JSON.parse(readFileSync(join(dir, f), 'utf8'));
}
const { passed, failed, lines } = await runVectors(e2e, files);
for (const l of lines) console.log(l);
console.log(`web-e2e: ${passed} passed, ${failed} failed`);
process.exit(failed || !passed ? 1 : 0);
