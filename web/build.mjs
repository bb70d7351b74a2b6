// SPDX-License-Identifier: MIT
// Parley - builds the web client into dist/: index.html plus content-hashed, brotli-precompressed
// assets that parleyd reads at startup (server/webapp.c) and serves at / and /assets/.
// Copyright (c) 2026 Parley developers
//
// Usage: node build.mjs [--outdir DIR]   (default: dist, next to this file)
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const argOut = process.argv.indexOf('--outdir');
const out = argOut > 0 ? process.argv[argOut + 1] : join(here, 'dist');
const tmp = `${out}.tmp`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(join(tmp, 'assets'), { recursive: true });

// esbuild names every output by a hash of its content ([hash]); code split into chunks so the
// crypto library loads only when a chat needs it.
const result = await build({
  entryPoints: { app: join(here, 'src/main.js'), style: join(here, 'src/style.css'),
    // The operator dashboard at /admin (src/admin/).
    admin: join(here, 'src/admin/main.js'), admincss: join(here, 'src/admin/admin.css') },
  bundle: true,
  format: 'esm',
  splitting: true,
  minify: true,
  sourcemap: false,
  target: ['chrome110', 'firefox115', 'safari16'],
  outdir: join(tmp, 'assets'),
  entryNames: '[name].[hash]',
  chunkNames: 'chunk.[hash]',
  assetNames: '[name].[hash]',
  metafile: true,
  legalComments: 'none',
  // The test suite's build (PARLEY_WEB_INSECURE_TEST_KDF=1) seals the browser's key store with
  // libsodium's minimum argon2id cost instead of MODERATE, as the CLI's -Dinsecure_test_kdf.
  define: { __PARLEY_INSECURE_TEST_KDF__: process.env.PARLEY_WEB_INSECURE_TEST_KDF === '1' ? 'true' : 'false' },
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => p.split('/').pop());
const js = outputs.find((n) => /^app\.[A-Z0-9]+\.js$/i.test(n));
const css = outputs.find((n) => /^style\.[A-Z0-9]+\.css$/i.test(n));
if (!js || !css) throw new Error(`build: no app/style output in ${outputs.join(', ')}`);
// The style entry also emits an empty JS stub; drop it.
for (const n of outputs) if (/^(style|admincss)\..*\.js$/.test(n)) rmSync(join(tmp, 'assets', n));

const icon = readFileSync(join(here, 'src/icon.svg'));
const iconName = `icon.${createHash('sha256').update(icon).digest('hex').slice(0, 10)}.svg`;
writeFileSync(join(tmp, 'assets', iconName), icon);

// The Web Push service worker (src/sw.js): served at /sw.js under that fixed name (a worker's scope
// is its own directory, and the browser registers it by URL), so it is one self-contained classic
// script, bundled apart from the app, with the hashed icon's path written in.
await build({
  entryPoints: [join(here, 'src/sw.js')],
  bundle: true,
  format: 'iife',
  minify: true,
  sourcemap: false,
  target: ['chrome110', 'firefox115', 'safari16'],
  outfile: join(tmp, 'sw.js'),
  legalComments: 'none',
  define: { __PARLEY_ICON__: JSON.stringify(`/assets/${iconName}`) },
  logLevel: 'warning',
});

const index = readFileSync(join(here, 'src/index.html'), 'utf8')
  .replaceAll('%APP_JS%', `/assets/${js}`)
  .replaceAll('%APP_CSS%', `/assets/${css}`)
  .replaceAll('%ICON%', `/assets/${iconName}`);
writeFileSync(join(tmp, 'index.html'), index);
const adminJs = outputs.find((n) => /^admin\.[A-Z0-9]+\.js$/i.test(n));
const adminCss = outputs.find((n) => /^admincss\.[A-Z0-9]+\.css$/i.test(n));
if (!adminJs || !adminCss) throw new Error(`build: no admin output in ${outputs.join(', ')}`);
writeFileSync(join(tmp, 'admin.html'), readFileSync(join(here, 'src/admin/admin.html'), 'utf8')
  .replaceAll('%ADMIN_JS%', `/assets/${adminJs}`).replaceAll('%ADMIN_CSS%', `/assets/${adminCss}`)
  .replaceAll('%ICON%', `/assets/${iconName}`));

// Brotli twins at the best quality: made once here, so the server never compresses them.
const files = ['index.html', 'admin.html', 'sw.js', ...readdirSync(join(tmp, 'assets')).map((n) => `assets/${n}`)];
let raw = 0, br = 0;
for (const f of files) {
  const data = readFileSync(join(tmp, f));
  const z = brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11,
    [constants.BROTLI_PARAM_SIZE_HINT]: data.length } });
  raw += data.length;
  if (z.length < data.length) {
    writeFileSync(join(tmp, `${f}.br`), z);
    br += z.length;
  } else {
    br += data.length;
  }
}
rmSync(out, { recursive: true, force: true });
renameSync(tmp, out);
console.log(`web: built ${files.length} files into ${out}: ${raw} bytes, ${br} with brotli`);
