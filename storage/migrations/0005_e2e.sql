-- SPDX-License-Identifier: MIT
-- Parley - migration 0005: end-to-end encryption (key directory, ciphertexts).
-- Copyright (c) 2026 Parley developers
--
-- Runs inside a transaction opened by storage/pg_migrate.c. The server only
-- ever stores public keys and ciphertexts here; it never decrypts anything.
-- Binary values are kept as the clients sent them, base64url without
-- padding (the API checked they decode, canonically, to the right size).

-- The published keys of one device (one login). A device that logs out
-- keeps its row, but every reader joins devices.revoked_at IS NULL, so it
-- disappears from listings and from the recipient set at once.
CREATE TABLE device_keys (
  device_id bigint PRIMARY KEY REFERENCES devices ON DELETE CASCADE,
  user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
  identity_key text NOT NULL,                 -- Ed25519 public key
  signed_prekey_id bigint NOT NULL CHECK (signed_prekey_id BETWEEN 0 AND 4294967295),
  signed_prekey text NOT NULL,                -- X25519 public key
  signed_prekey_sig text NOT NULL,            -- Ed25519 signature by identity_key
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_keys_by_user ON device_keys (user_id);

-- One-time prekeys: each handed out once (DELETE ... RETURNING under
-- FOR UPDATE SKIP LOCKED, so concurrent bundle fetches never share one).
CREATE TABLE one_time_prekeys (
  device_id bigint NOT NULL REFERENCES device_keys ON DELETE CASCADE,
  key_id bigint NOT NULL CHECK (key_id BETWEEN 0 AND 4294967295),
  public_key text NOT NULL,
  PRIMARY KEY (device_id, key_id)
);

-- The per-recipient-device ciphertexts of an e2e message. The message row
-- (kind 'e2e') holds the parts every member sees (sender device, group
-- ciphertext, media ids) as its JSON body. Rows are written in the send's
-- transaction before the message row itself (which needs the stream
-- position, taken last), hence the deferred foreign key.
CREATE TABLE e2e_ciphertexts (
  conversation_id bigint NOT NULL,
  seq bigint NOT NULL,
  device_id bigint NOT NULL,
  type text NOT NULL CHECK (type IN ('prekey', 'message')),
  ciphertext text NOT NULL,
  PRIMARY KEY (conversation_id, seq, device_id),
  FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq)
    ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX e2e_ciphertexts_by_device ON e2e_ciphertexts (device_id, conversation_id, seq);

-- Clear-text media references of e2e messages, so that members may
-- download the (client-encrypted) blobs.
CREATE TABLE e2e_media (
  media_id bigint NOT NULL,
  conversation_id bigint NOT NULL,
  seq bigint NOT NULL,
  PRIMARY KEY (media_id, conversation_id, seq),
  FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq)
    ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
