// SPDX-License-Identifier: MIT
// Parley - the vector runners shared by the node test and the Chromium page (no node imports).
// Copyright (c) 2026 Parley developers
//
// runVectors(e2e, files): e2e is web/src/e2e/index.js, files maps "kdf.json" -> parsed JSON.
// Every vector's inputs are fed to the modules and every output is compared byte for byte; a
// vector passes only when every output matches and every scripted random byte was used.

export async function runVectors(e2e, files) {
  const { fromHex: H, toHex, utf8, fromUtf8, get32, sodium } = e2e;
  const lines = [];
  let passed = 0, failed = 0;
  const mod = sodium.libsodium;
  const realRandom = mod.getRandomValue;
  let queue = null, qpos = 0;

  function script(bytes, fn) {
    queue = bytes;
    qpos = 0;
    try {
      const r = fn();
      if (qpos !== bytes.length) throw new Error(`used ${qpos} of ${bytes.length} random bytes`);
      return r;
    } finally {
      queue = null;
    }
  }
  mod.getRandomValue = () => {
    if (!queue) return realRandom();
    // Past the script, real randomness: libsodium.js's crypto_pwhash draws a few bytes of its own
    // (not part of any output); a draw the protocol makes shows up as an output mismatch.
    if (qpos >= queue.length) return realRandom();
    return queue[qpos++];
  };

  class Vec {
    constructor(v) {
      this.v = v;
      this.errors = [];
      this.seen = new Set();
    }
    in(name) {
      if (!(name in this.v.inputs)) throw new Error(`missing input ${name}`);
      return name.endsWith('_text') ? this.v.inputs[name] : H(this.v.inputs[name]);
    }
    has(name) {
      return name in this.v.inputs;
    }
    u32(name) {
      return get32(this.in(name));
    }
    out(name, got) {
      this.seen.add(name);
      const want = this.v.outputs[name];
      const g = typeof got === 'string' ? got : toHex(got);
      if (want === undefined) this.errors.push(`output ${name} not in the vector`);
      else if (want !== g) this.errors.push(`${name}: got ${g.slice(0, 64)}, want ${want.slice(0, 64)}`);
    }
    check(cond, what) {
      if (!cond) this.errors.push(`check failed: ${what}`);
    }
    expectError(code, fn, what) {
      try {
        fn();
        this.errors.push(`${what}: no error, want ${code}`);
      } catch (e) {
        if (e.code !== code) this.errors.push(`${what}: ${e.code || e.message}, want ${code}`);
      }
    }
  }

  const text = (b) => fromUtf8(b);

  function pairStart(v) {
    const alice = e2e.identityFromSeed(v.in('alice_identity_seed'));
    const bob = e2e.identityFromSeed(v.in('bob_identity_seed'));
    v.out('alice_identity_public', alice.pub);
    v.out('bob_identity_public', bob.pub);
    const spk = script(v.in('bob_signed_prekey_random'),
      () => e2e.signedPrekeyGenerate(bob, v.u32('bob_signed_prekey_id')));
    v.out('bob_signed_prekey_public', spk.pub);
    v.out('bob_signed_prekey_signature', spk.sig);
    let opk = null;
    if (v.has('bob_one_time_prekey_id')) {
      opk = script(v.in('bob_one_time_prekey_random'),
        () => e2e.prekeyGenerate(v.u32('bob_one_time_prekey_id')));
      v.out('bob_one_time_prekey_public', opk.pub);
    }
    const bundle = { identityKey: bob.pub, spkId: spk.id, spkPub: spk.pub, spkSig: spk.sig };
    if (opk) Object.assign(bundle, { opkId: opk.id, opkPub: opk.pub });
    const rnd = v.in('alice_initiate_random');
    let a = script(rnd, () => e2e.sessionInitiate(alice, bundle));
    v.out('x3dh_shared_secret', e2e.x3dhInitiatorSecret(alice, bundle, rnd.subarray(0, 32)));
    v.out('x3dh_associated_data', a.ad);
    v.out('alice_root_key', a.rk);
    v.out('alice_sending_chain_key', a.cks);
    const first = v.in('first_plaintext_text');
    const enc = e2e.sessionEncrypt(a, utf8(first));
    v.check(enc.type === 'prekey', 'first message is a prekey message');
    a = enc.session;
    v.out('first_message', enc.message);
    const r = script(v.in('bob_respond_random'), () => e2e.sessionRespond(bob, spk, opk, enc.message));
    v.check(text(r.plaintext) === first, 'bob reads the first message');
    v.out('bob_root_key', r.session.rk);
    // A second delivery of the same message to Bob's session is a replay (the state is unchanged).
    v.expectError('EREPLAY', () => e2e.sessionDecrypt(r.session, enc.message), 'replayed first');
    return { a, b: r.session };
  }

  const runners = {
    hkdf(v) {
      v.out('okm', e2e.hkdf(v.in('salt'), v.in('ikm'), v.in('info_text'), v.u32('length')));
    },
    chain(v) {
      let ck = v.in('chain_key');
      for (let i = 0; i < 3; i++) {
        const r = e2e.kdfCk(ck);
        ck = r.ck;
        v.out(`message_key_${i}`, r.mk);
        v.out(`chain_key_${i + 1}`, ck);
        const m = e2e.msgKeys(r.mk, e2e.LABEL.msgkeys);
        v.out(`aead_key_${i}`, m.key);
        v.out(`aead_nonce_${i}`, m.nonce);
        const s = e2e.msgKeys(r.mk, e2e.LABEL.senderkey);
        v.out(`sender_aead_key_${i}`, s.key);
        v.out(`sender_aead_nonce_${i}`, s.nonce);
      }
      const r = e2e.kdfRk(v.in('root_key'), v.in('dh_output'));
      v.out('next_root_key', r.rk);
      v.out('next_chain_key', r.ck);
    },
    x3dh(v) {
      pairStart(v);
    },
    ratchet(v) {
      const p = pairStart(v);
      const late = [];
      const deliver = (fromAlice, m, step, want) => {
        const name = `step${step}_receive_random`;
        const rnd = v.has(name) ? v.in(name) : new Uint8Array(0);
        const r = script(rnd, () => e2e.sessionDecrypt(fromAlice ? p.b : p.a, m));
        v.check(text(r.plaintext) === want, `step ${step} plaintext`);
        if (fromAlice) p.b = r.session; else p.a = r.session;
        // Replays fail and leave the state as it was (transactional decrypt).
        const before = e2e.toHex(r.session.rk);
        try {
          e2e.sessionDecrypt(r.session, m);
          v.check(false, `step ${step} replay refused`);
        } catch (e) {
          v.check(['EREPLAY', 'EAUTH'].includes(e.code), `step ${step} replay: ${e.code}`);
        }
        v.check(e2e.toHex(r.session.rk) === before, `step ${step} replay left the state`);
      };
      const steps = v.u32('step_count');
      for (let i = 0; i < steps; i++) {
        const fromAlice = v.in(`step${i}_from_text`) === 'alice';
        const want = v.in(`step${i}_plaintext_text`);
        const enc = e2e.sessionEncrypt(fromAlice ? p.a : p.b, utf8(want));
        if (fromAlice) p.a = enc.session; else p.b = enc.session;
        v.out(`step${i}_message`, enc.message);
        v.out(`step${i}_type_text`, enc.type);
        if (v.in(`step${i}_deliver_text`) === 'now') deliver(fromAlice, enc.message, i, want);
        else late.push([fromAlice, enc.message, i, want]);
      }
      while (late.length) deliver(...late.pop());
      v.out('final_alice_root_key', p.a.rk);
      v.out('final_bob_root_key', p.b.rk);
    },
    senderkey(v) {
      const conv = e2e.get64(v.in('conversation_id')), dev = e2e.get64(v.in('sender_device'));
      let own = script(v.in('create_random'), () => e2e.senderKeyNew(conv, dev));
      const skdm = e2e.senderKeyDistribution(own);
      v.out('distribution', skdm);
      let member = e2e.senderKeyFromDistribution(skdm, conv, dev);
      v.expectError('ECONTEXT', () => e2e.senderKeyFromDistribution(skdm, conv + 1n, dev),
        'distribution in another conversation');
      v.expectError('ECONTEXT', () => e2e.senderKeyFromDistribution(skdm, conv, dev + 1n),
        'distribution from another device');
      const texts = [0, 1, 2].map((i) => v.in(`message${i}_plaintext_text`));
      const msgs = texts.map((t, i) => {
        const r = e2e.senderKeyEncrypt(own, utf8(t));
        own = r.senderKey;
        v.out(`message${i}`, r.message);
        return r.message;
      });
      for (const i of [2, 0, 1]) {
        const r = e2e.senderKeyDecrypt(member, conv, dev, msgs[i]);
        v.check(text(r.plaintext) === texts[i], `group message ${i}`);
        v.expectError('EREPLAY', () => e2e.senderKeyDecrypt(r.senderKey, conv, dev, msgs[i]),
          `group replay ${i}`);
        member = r.senderKey;
      }
      const rotated = script(v.in('rotate_random'), () => e2e.senderKeyNew(conv, dev));
      const rd = e2e.senderKeyDistribution(rotated);
      v.out('rotated_distribution', rd);
      const rt = v.in('rotated_plaintext_text');
      const rm = e2e.senderKeyEncrypt(rotated, utf8(rt)).message;
      v.out('rotated_message', rm);
      v.expectError('ENOKEY', () => e2e.senderKeyDecrypt(member, conv, dev, rm), 'old key');
      const member2 = e2e.senderKeyFromDistribution(rd, conv, dev);
      v.check(text(e2e.senderKeyDecrypt(member2, conv, dev, rm).plaintext) === rt, 'rotated');
      v.expectError('ECONTEXT', () => e2e.senderKeyDecrypt(member2, conv + 1n, dev, rm),
        'group message in another conversation');
    },
    safety(v) {
      const split = (b) => Array.from({ length: b.length / 32 }, (_, i) => b.slice(32 * i, 32 * i + 32));
      const ka = split(v.in('user_a_keys')), kb = split(v.in('user_b_keys'));
      const ia = v.in('user_a_id_text'), ib = v.in('user_b_id_text');
      const x = e2e.safetyNumber(ia, ka, ib, kb), y = e2e.safetyNumber(ib, kb, ia, ka);
      v.check(x.digits === y.digits && e2e.toHex(x.qr) === e2e.toHex(y.qr), 'symmetric');
      v.check(x.digits.length === 60, '60 digits');
      v.out('safety_number_text', x.digits);
      v.out('qr_payload', x.qr);
    },
    file(v) {
      let pt;
      if (v.has('plaintext')) {
        pt = v.in('plaintext');
      } else {
        pt = new Uint8Array(v.u32('pattern_length'));
        for (let i = 0; i < pt.length; i++) pt[i] = (i * 31 + 7) & 255;
      }
      const r = script(v.in('encrypt_random'), () => e2e.fileEncrypt(pt));
      v.out('digest', r.digest);
      v.out('ciphertext_length', e2e.be32(r.ciphertext.length));
      if ('ciphertext' in v.v.outputs || r.ciphertext.length <= 4096) v.out('ciphertext', r.ciphertext);
      const back = e2e.fileDecrypt(r.ciphertext, r.key, r.digest);
      v.check(e2e.equal(back, pt), 'file round trip');
      const cut = r.ciphertext.subarray(0, r.ciphertext.length - 1);
      v.expectError('EAUTH', () => e2e.fileDecrypt(cut, r.key, e2e.sodium.crypto_hash_sha256(cut)),
        'truncated file');
      v.check(r.ciphertext.length <= e2e.fileMaxCiphertext(pt.length), 'size bound');
    },
    action(v) {
      const n = (k) => Number(v.in(k));
      v.out('effect_text', e2e.actionEffect(n('refers_to_text'), v.in('action_text'), v.in('payload_text'),
        n('sender_text'), n('target_sender_text')));
    },
    vault(v) {
      const pass = v.in('passphrase_text'), t = v.in('plaintext_text');
      const p = { opslimit: v.u32('opslimit'), memlimit: v.u32('memlimit') };
      const sealed = script(v.in('seal_random'), () => e2e.vaultSeal(pass, p, utf8(t)));
      v.out('sealed', sealed);
      v.check(text(e2e.vaultOpen(pass, sealed)) === t, 'vault opens');
      v.expectError('EPASSPHRASE', () => e2e.vaultOpen('wrong', sealed), 'wrong passphrase');
    },
  };
  const byFile = {
    'kdf.json': (v) => (v.name === 'chains' ? runners.chain : runners.hkdf),
    'x3dh.json': () => runners.x3dh,
    'ratchet.json': () => runners.ratchet,
    'senderkey.json': () => runners.senderkey,
    'safety.json': () => runners.safety,
    'file.json': () => runners.file,
    'vault.json': () => runners.vault,
    'actions.json': () => runners.action,
  };

  for (const [file, json] of Object.entries(files)) {
    const pick = byFile[file];
    for (const raw of json.vectors) {
      const v = new Vec(raw);
      try {
        if (!pick) throw new Error('no runner for this file');
        pick(raw)(v);
        for (const k of Object.keys(raw.outputs)) {
          if (!v.seen.has(k)) v.errors.push(`output ${k} never produced`);
        }
      } catch (e) {
        v.errors.push(`threw: ${e.code || ''} ${e.stack || e}`);
      }
      if (v.errors.length) {
        failed++;
        lines.push(`FAIL ${file} ${raw.name}`, ...v.errors.map((x) => `  ${x}`));
      } else {
        passed++;
        lines.push(`ok   ${file} ${raw.name}`);
      }
    }
  }
  mod.getRandomValue = realRandom;
  return { passed, failed, lines };
}
