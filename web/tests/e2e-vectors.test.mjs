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
let { passed, failed, lines } = await runVectors(e2e, files);
for (const l of lines) console.log(`node     ${l}`);

// The same vectors in headless Chromium (skipped with PARLEY_E2E_NODE_ONLY=1).
if (!process.env.PARLEY_E2E_NODE_ONLY) {
  try {
    const r = await inChromium(files);
    for (const l of r.lines) console.log(`chromium ${l}`);
    passed += r.passed;
    failed += r.failed;
  } catch (e) {
    console.log(`chromium FAIL: ${e.stack || e}`);
    failed++;
  }
}
// Live interop with the CLI over a real parleyd, when run by ./scripts/test (which provides
// PostgreSQL, Redis, the binaries and a TLS certificate); one case.
const env = process.env;
if (env.PARLEY_TEST_PG && env.PARLEY_TEST_BIN && env.PARLEY_TEST_CLI && !env.PARLEY_E2E_NODE_ONLY) {
  try {
    const { runInterop } = await import('./e2e-interop.mjs');
    const lines = await runInterop({ bin: env.PARLEY_TEST_BIN, cli: env.PARLEY_TEST_CLI,
      webDir: env.PARLEY_WEB_DIST || join(here, '..', 'dist') });
    for (const l of lines) console.log(`interop  ${l}`);
    passed++;
  } catch (e) {
    console.log(`interop  FAIL ${e.stack || e}`);
    failed++;
  }
} else {
  console.log('interop  not run (needs PARLEY_TEST_PG, PARLEY_TEST_BIN, PARLEY_TEST_CLI: ./scripts/test)');
}
console.log(`web-e2e: ${passed} passed, ${failed} failed`);
process.exit(failed || !passed ? 1 : 0);

async function inChromium(vectorFiles) {
  const { build } = await import('esbuild');
  const { chromium } = await import('playwright-core');
  const out = await build({
    entryPoints: [join(here, 'e2e-vectors.page.mjs')], bundle: true, format: 'esm', write: false,
    target: ['chrome110'], logLevel: 'warning',
  });
  const js = out.outputFiles[0].text;
  const origin = 'http://e2e-vectors.test';
  const browser = await chromium.launch({
    executablePath: process.env.PARLEY_TEST_CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // Served under the web client's own CSP, so the test also proves the policy lets it run.
    const csp = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; object-src 'none'";
    await page.route(`${origin}/**`, (route) => {
      const u = new URL(route.request().url());
      if (u.pathname === '/vectors.js') {
        return route.fulfill({ contentType: 'text/javascript', body: js,
          headers: { 'Content-Security-Policy': csp } });
      }
      return route.fulfill({ contentType: 'text/html', headers: { 'Content-Security-Policy': csp },
        body: '<!doctype html><title>e2e vectors</title><script type="module" src="/vectors.js"></script>' });
    });
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => window.parleyE2eReady === true, null, { timeout: 30000 })
      .catch(() => { throw new Error(`page did not load: ${errors.join('; ')}`); });
    return await page.evaluate((f) => window.parleyRunVectors(f), vectorFiles);
  } finally {
    await browser.close();
  }
}
