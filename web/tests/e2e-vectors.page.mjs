// SPDX-License-Identifier: MIT
// Parley - the browser side of tests/e2e-vectors.test.mjs: bundled by esbuild and loaded in
// headless Chromium, it runs the vectors through web/src/e2e with the browser's WebAssembly.
// Copyright (c) 2026 Parley developers
import * as e2e from '../src/e2e/index.js';
import { runVectors } from './e2e-vectors.lib.mjs';

window.parleyRunVectors = (files) => runVectors(e2e, files);
window.parleyE2eReady = true;
