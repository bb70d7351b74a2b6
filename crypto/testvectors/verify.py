#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Parley - an independent check of crypto/testvectors/*.json (Python + the
# "cryptography" package; XChaCha20 via a local HChaCha20). Not part of the
# test suite: run it by hand after regenerating the vectors.
import json, hashlib, hmac, struct, sys
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization as ser
import os
D=os.path.dirname(os.path.abspath(__file__))+"/"
P=2**255-19
def raw(k): return k.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
def hkdf(salt, ikm, info, L):
    if not salt: salt=b'\0'*32
    prk=hmac.new(salt, ikm, hashlib.sha256).digest()
    t=b''; out=b''; i=1
    while len(out)<L:
        t=hmac.new(prk, t+info+bytes([i]), hashlib.sha256).digest(); out+=t; i+=1
    return out[:L]
def ed_pk_to_x(pk):
    y=int.from_bytes(pk,'little') & ((1<<255)-1)
    u=(1+y)*pow(1-y, P-2, P) % P
    return u.to_bytes(32,'little')
def ed_seed_to_x(seed):
    h=bytearray(hashlib.sha512(seed).digest()[:32]); return bytes(h)  # X25519 clamps itself
def dh(sk, pk): return X25519PrivateKey.from_private_bytes(sk).exchange(X25519PublicKey.from_public_bytes(pk))
def xpub(sk): return raw(X25519PrivateKey.from_private_bytes(sk).public_key())
def rotl(v,c): return ((v<<c)&0xffffffff)|(v>>(32-c))
def qr(s,a,b,c,d):
    s[a]=(s[a]+s[b])&0xffffffff; s[d]=rotl(s[d]^s[a],16)
    s[c]=(s[c]+s[d])&0xffffffff; s[b]=rotl(s[b]^s[c],12)
    s[a]=(s[a]+s[b])&0xffffffff; s[d]=rotl(s[d]^s[a],8)
    s[c]=(s[c]+s[d])&0xffffffff; s[b]=rotl(s[b]^s[c],7)
def hchacha(key, n16):
    s=[0x61707865,0x3320646e,0x79622d32,0x6b206574]+list(struct.unpack('<8I',key))+list(struct.unpack('<4I',n16))
    for _ in range(10):
        qr(s,0,4,8,12);qr(s,1,5,9,13);qr(s,2,6,10,14);qr(s,3,7,11,15)
        qr(s,0,5,10,15);qr(s,1,6,11,12);qr(s,2,7,8,13);qr(s,3,4,9,14)
    return struct.pack('<8I',*(s[0:4]+s[12:16]))
def xopen(key, nonce, ct, ad):
    sub=hchacha(key, nonce[:16]); return ChaCha20Poly1305(sub).decrypt(b'\0'*4+nonce[16:], ct, ad)
def kdf_ck(ck): return hmac.new(ck,b'\x01',hashlib.sha256).digest(), hmac.new(ck,b'\x02',hashlib.sha256).digest()
def kdf_rk(rk, d): o=hkdf(rk,d,b'parley-ratchet-v1',64); return o[:32],o[32:]
H=bytes.fromhex
# kdf.json
k=json.load(open(D+'kdf.json'))['vectors']
for v in k[:2]:
    i=v['inputs']; assert hkdf(H(i['salt']),H(i['ikm']),i['info_text'].encode(),int(i['length'],16)).hex()==v['outputs']['okm']
i=k[2]['inputs']; o=k[2]['outputs']; ck=H(i['chain_key'])
for n in range(3):
    mk,ck=kdf_ck(ck); assert mk.hex()==o['message_key_%d'%n] and ck.hex()==o['chain_key_%d'%(n+1)]
    km=hkdf(b'',mk,b'parley-msgkeys-v1',56); assert km[:32].hex()==o['aead_key_%d'%n] and km[32:].hex()==o['aead_nonce_%d'%n]
rk,c2=kdf_rk(H(i['root_key']),H(i['dh_output'])); assert rk.hex()==o['next_root_key'] and c2.hex()==o['next_chain_key']
print('kdf ok')
for v in json.load(open(D+'x3dh.json'))['vectors']:
    i=v['inputs']; o=v['outputs']
    a=Ed25519PrivateKey.from_private_bytes(H(i['alice_identity_seed'])); b=Ed25519PrivateKey.from_private_bytes(H(i['bob_identity_seed']))
    ika=raw(a.public_key()); ikb=raw(b.public_key())
    assert ika.hex()==o['alice_identity_public'] and ikb.hex()==o['bob_identity_public']
    spk_sk=H(i['bob_signed_prekey_random']); spk=xpub(spk_sk); assert spk.hex()==o['bob_signed_prekey_public']
    sig=b.sign(b'parley-spk-v1'+H(i['bob_signed_prekey_id'])+spk); assert sig.hex()==o['bob_signed_prekey_signature']
    r=H(i['alice_initiate_random']); ek=r[:32]; ra=r[32:]
    dhs=[dh(ed_seed_to_x(H(i['alice_identity_seed'])),spk), dh(ek,ed_pk_to_x(ikb)), dh(ek,spk)]
    if 'bob_one_time_prekey_random' in i:
        opk=xpub(H(i['bob_one_time_prekey_random'])); assert opk.hex()==o['bob_one_time_prekey_public']; dhs.append(dh(ek,opk))
    sk=hkdf(b'',b'\xff'*32+b''.join(dhs),b'parley-x3dh-v1',32); assert sk.hex()==o['x3dh_shared_secret'], 'sk'
    ad=ika+ikb; assert ad.hex()==o['x3dh_associated_data']
    rk,cks=kdf_rk(sk, dh(ra,spk)); assert rk.hex()==o['alice_root_key'] and cks.hex()==o['alice_sending_chain_key']
    m=H(o['first_message']); assert m[0]==0x21 and m[1:33]==ika and m[33:65]==xpub(ek)
    inner=m[74:]; hdr=inner[:41]; assert hdr[0]==0x22 and hdr[1:33]==xpub(ra)
    mk,_=kdf_ck(cks); km=hkdf(b'',mk,b'parley-msgkeys-v1',56)
    pt=xopen(km[:32],km[32:],inner[41:],ad+hdr); assert pt.decode()==i['first_plaintext_text']
print('x3dh ok (independent X25519/Ed25519/HKDF/XChaCha20-Poly1305)')
v=json.load(open(D+'senderkey.json'))['vectors'][0]; i=v['inputs']; o=v['outputs']
conv=H(i['conversation_id']); dev=H(i['sender_device'])
d=H(o['distribution']); assert len(d)==89 and d[0]==0x24 and d[1:9]==conv and d[9:17]==dev
ck=d[25:57]; spk=d[57:89]; assert struct.unpack('>I',d[21:25])[0]==0
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
for n in range(3):
    m=H(o['message%d'%n]); assert m[0]==0x23 and m[1:5]==d[17:21] and struct.unpack('>I',m[5:9])[0]==n
    ad=conv+dev+m[:9]; ct=m[9:-64]
    Ed25519PublicKey.from_public_bytes(spk).verify(m[-64:], ad+ct)
    mk,ck=kdf_ck(ck); km=hkdf(b'',mk,b'parley-senderkey-v1',56)
    assert xopen(km[:32],km[32:],ct,ad).decode()==i['message%d_plaintext_text'%n]
print('senderkey ok')
for v in json.load(open(D+'safety.json'))['vectors']:
    i=v['inputs']; o=v['outputs']
    def fp(uid, keys):
        ks=b''.join(sorted(keys[j:j+32] for j in range(0,len(keys),32)))
        h=hashlib.sha512(b'parley-safety-v1'+struct.pack('>I',len(uid))+uid+ks).digest()
        for _ in range(5200): h=hashlib.sha512(h+ks).digest()
        return h
    def dig(h): return ''.join('%05d'%(int.from_bytes(h[k*5:k*5+5],'big')%100000) for k in range(6))
    fa=fp(i['user_a_id_text'].encode(),H(i['user_a_keys'])); fb=fp(i['user_b_id_text'].encode(),H(i['user_b_keys']))
    x=sorted([(dig(fa),fa),(dig(fb),fb)])
    assert x[0][0]+x[1][0]==o['safety_number_text']; assert (b'\x01'+x[0][1][:32]+x[1][1][:32]).hex()==o['qr_payload']
print('safety ok')
