// Exercises the WebCrypto primitives sealdrop's pages use and writes what happened into the
// DOM, where the Go test reads it.
const enc = new TextEncoder();
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

async function run() {
  const r = {
    secure: window.isSecureContext,
    subtle: typeof crypto !== 'undefined' && typeof crypto.subtle !== 'undefined',
    wasm: typeof WebAssembly,
    origin: location.origin,
  };
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, enc.encode('hello onion'));
  r.aesgcm = new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, ct));

  // RFC 5869 test case 3 (empty salt and info): a known answer, not just "it ran".
  const ikm = new Uint8Array(22).fill(0x0b);
  const hk = await crypto.subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  r.hkdf = hex(await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: new Uint8Array(0) }, hk, 336));

  // RFC 7914 / RFC 6070-style PBKDF2-HMAC-SHA256 known answer ("passwd", "salt", 1 iteration, 64 bytes).
  const pk = await crypto.subtle.importKey('raw', enc.encode('passwd'), 'PBKDF2', false, ['deriveBits']);
  r.pbkdf2 = hex(await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: enc.encode('salt'), iterations: 1 }, pk, 512));

  const a = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
  const b = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
  const ab = hex(await crypto.subtle.deriveBits({ name: 'ECDH', public: b.publicKey }, a.privateKey, 256));
  const ba = hex(await crypto.subtle.deriveBits({ name: 'ECDH', public: a.publicKey }, b.privateKey, 256));
  r.ecdh = ab === ba && ab.length === 64;

  const echo = await fetch('/echo', { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: enc.encode('body-marker-1234') });
  r.echo = await echo.text();
  return r;
}

run().then((r) => {
  document.getElementById('results').textContent = JSON.stringify(r);
  document.getElementById('status').textContent = 'done';
}, (e) => {
  document.getElementById('status').textContent = 'error: ' + e;
});
