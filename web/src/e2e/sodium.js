// SPDX-License-Identifier: MIT
// Parley - loads libsodium (WebAssembly, sumo build) once for the E2E modules.
// Copyright (c) 2026 Parley developers
import sodium from 'libsodium-wrappers-sumo';

await sodium.ready;

export default sodium;
