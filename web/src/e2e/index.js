// SPDX-License-Identifier: MIT
// Parley - browser end-to-end encryption (crypto/PROTOCOL.md, version 2): the public surface.
// Copyright (c) 2026 Parley developers
export { default as sodium } from './sodium.js';
export * from './bytes.js';
export * from './wire.js';
export * from './kdf.js';
export * from './keys.js';
export * from './x3dh.js';
export * from './ratchet.js';
export * from './senderkey.js';
export * from './safety.js';
export * from './file.js';
export * from './vault.js';
export * from './action.js';
