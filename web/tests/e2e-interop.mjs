// SPDX-License-Identifier: MIT
// Parley - live interop of web/src/e2e with the C CLI (build/client/parley) over a real parleyd:
// a user registered through the HTTP API with keys from the browser library starts an E2E
// direct chat with a CLI user (X3DH with a one-time prekey), and one message goes each way; then
// the web side edits its message and the CLI reacts to it (crypto/PROTOCOL.md, "Edits and
// reactions"), each read by the other implementation.
// Copyright (c) 2026 Parley developers
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as e2e from '../src/e2e/index.js';
import { PASSWORD, startServer, stopServer, uname } from './lib.mjs';

const run = promisify(execFile);
const { toB64url: b64, fromB64url: unb64, utf8, fromUtf8 } = e2e;

async function api(base, token, method, path, body) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(`${base}${path}`, { method, headers,
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Returns a list of "ok ..." / "FAIL ..." lines; throws on a failure. */
export async function runInterop({ bin, cli, webDir }) {
  const lines = [];
  const home = mkdtempSync(join(tmpdir(), 'pt-e2e-cli-'));
  const srv = await startServer(webDir);
  const base = `http://127.0.0.1:${srv.port}`;
  const cliEnv = { ...process.env, PARLEY_HOME: home, PARLEY_SERVER: base, PARLEY_PASSWORD: PASSWORD,
    PARLEY_PASSPHRASE: 'cli passphrase', PARLEY_VAULT_COST: 'low' };
  const parley = (...args) => run(cli, args, { env: cliEnv, timeout: 60000 });
  try {
    const cliName = uname('cli'), webName = uname('web');
    await parley('register', cliName);
    lines.push(`ok   CLI registered ${cliName}`);

    // The web user: account, session (bearer token), keys made by web/src/e2e.
    await api(base, null, 'POST', '/v1/users', { username: webName, password: PASSWORD });
    const sess = await api(base, null, 'POST', '/v1/sessions',
      { username: webName, password: PASSWORD, device_name: 'e2e interop' });
    const tok = sess.token, dev = sess.device_id;
    const me = e2e.identityNew();
    const spk = e2e.signedPrekeyGenerate(me, 1);
    const opks = [1, 2, 3].map((i) => e2e.prekeyGenerate(i));
    await api(base, tok, 'PUT', `/v1/devices/${dev}/keys`, {
      identity_key: b64(me.pub),
      signed_prekey: { id: spk.id, public_key: b64(spk.pub), signature: b64(spk.sig) },
      one_time_prekeys: opks.map((k) => ({ id: k.id, public_key: b64(k.pub) })),
    });
    lines.push(`ok   web user ${webName} published keys from web/src/e2e`);

    // Web -> CLI: X3DH from the CLI device's bundle, a prekey message in an e2e direct chat.
    const bundles = await api(base, tok, 'GET', `/v1/users/${cliName}/keys`);
    if (bundles.devices.length !== 1) throw new Error(`CLI has ${bundles.devices.length} devices`);
    const d = bundles.devices[0];
    if (!d.one_time_prekey) throw new Error('the CLI bundle has no one-time prekey');
    let session = e2e.sessionInitiate(me, {
      identityKey: unb64(d.identity_key), spkId: d.signed_prekey.id,
      spkPub: unb64(d.signed_prekey.public_key), spkSig: unb64(d.signed_prekey.signature),
      opkId: d.one_time_prekey.id, opkPub: unb64(d.one_time_prekey.public_key),
    });
    const conv = await api(base, tok, 'POST', '/v1/conversations',
      { kind: 'direct', user: cliName, encryption: 'e2e' });
    const hello = `hello from the browser library ${Math.random().toString(16).slice(2, 8)}`;
    const enc = e2e.sessionEncrypt(session, utf8(JSON.stringify({ text: hello })));
    session = enc.session;
    const first = await api(base, tok, 'POST', `/v1/conversations/${conv.id}/messages`, {
      client_msg_id: `interop-${Date.now()}`, kind: 'e2e',
      e2e: { recipients: [{ device_id: d.device_id, type: enc.type, ciphertext: b64(enc.message) }] },
    });
    const heard = await parley('listen', '--count', '1', '--timeout', '20');
    if (!heard.stdout.includes(hello)) {
      throw new Error(`the CLI did not print the web message: ${heard.stdout} ${heard.stderr}`);
    }
    lines.push(`ok   CLI decrypted the web library's prekey message (X3DH with one-time prekey)`);

    // CLI -> web: the CLI answers in its session; the web library decrypts the ratchet message.
    const reply = `reply from the CLI ${Math.random().toString(16).slice(2, 8)}`;
    await parley('send', webName, reply);
    const page = await api(base, tok, 'GET', `/v1/conversations/${conv.id}/messages`);
    const m = page.messages.find((x) => x.sender_device_id !== dev && x.kind === 'e2e');
    if (!m || !m.e2e.ciphertext) throw new Error(`no e2e message from the CLI: ${JSON.stringify(page)}`);
    if (m.e2e.type !== 'message') throw new Error(`CLI answered with type ${m.e2e.type}`);
    const dec = e2e.sessionDecrypt(session, unb64(m.e2e.ciphertext));
    const body = JSON.parse(fromUtf8(dec.plaintext));
    if (body.text !== reply) throw new Error(`web decrypted ${JSON.stringify(body)}, want ${reply}`);
    session = dec.session;
    if (session.pending) throw new Error('session still pending after the reply');
    lines.push('ok   web library decrypted the CLI reply (Double Ratchet step)');

    // Safety numbers agree with the CLI's (same keys, same 60 digits).
    const v = await parley('verify', webName);
    const mine = e2e.safetyNumber(String(sess.user.id), [me.pub],
      String(bundles.user_id), [unb64(d.identity_key)]).digits;
    const cliDigits = v.stdout.replace(/[^0-9]/g, '');
    if (!cliDigits.includes(mine)) throw new Error(`safety numbers differ: ${mine} vs ${v.stdout}`);
    lines.push('ok   safety number equals the CLI\'s');

    // Web -> CLI: an encrypted edit of the first message, with its clear refers_to/action.
    const fixed = `${hello} (fixed)`;
    const ed = e2e.sessionEncrypt(session, utf8(JSON.stringify(e2e.actionPayload('edit', first.seq, fixed))));
    session = ed.session;
    const edMsg = await api(base, tok, 'POST', `/v1/conversations/${conv.id}/messages`, {
      client_msg_id: `interop-edit-${Date.now()}`, kind: 'e2e',
      e2e: { recipients: [{ device_id: d.device_id, type: ed.type, ciphertext: b64(ed.message) }],
        refers_to: first.seq, action: 'edit' },
    });
    if (edMsg.e2e.action !== 'edit' || edMsg.e2e.refers_to !== first.seq) {
      throw new Error(`the server did not keep the clear marker: ${JSON.stringify(edMsg.e2e)}`);
    }
    const edHeard = await parley('listen', '--count', '1', '--timeout', '20', '--json');
    if (!edHeard.stdout.includes('"action":"edit"') || !edHeard.stdout.includes(fixed)) {
      throw new Error(`the CLI did not apply the web edit: ${edHeard.stdout} ${edHeard.stderr}`);
    }
    const hist = await parley('history', webName);
    if (!hist.stdout.includes(`${fixed} (edited)`)) throw new Error(`CLI history: ${hist.stdout}`);
    lines.push('ok   CLI applied the web library\'s encrypted edit (history shows the new text)');

    // CLI -> web: an encrypted reaction; the web library reads it against its envelope.
    await parley('react', webName, String(first.seq), '🎉');
    const page2 = await api(base, tok, 'GET', `/v1/conversations/${conv.id}/messages`);
    const rm = page2.messages.find((x) => x.kind === 'e2e' && x.e2e.action === 'reaction');
    if (!rm || !rm.e2e.ciphertext) throw new Error(`no reaction from the CLI: ${JSON.stringify(page2)}`);
    const rdec = e2e.sessionDecrypt(session, unb64(rm.e2e.ciphertext));
    session = rdec.session;
    const act = e2e.actionParse(rm.e2e, JSON.parse(fromUtf8(rdec.plaintext)));
    if (!act || act.kind !== 'reaction' || act.seq !== first.seq || act.emoji !== '🎉') {
      throw new Error(`web read the CLI reaction as ${JSON.stringify(act)}`);
    }
    const target = page2.messages.find((x) => x.seq === first.seq);
    if (!target.edited_at) throw new Error('the server did not mark the edited message');
    lines.push('ok   web library read the CLI\'s encrypted reaction; the server marked the edit only');
    return lines;
  } finally {
    await stopServer(srv);
    rmSync(home, { recursive: true, force: true });
  }
}
