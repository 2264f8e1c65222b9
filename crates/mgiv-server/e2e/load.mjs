// Load benchmark (not CI): GET /api/patients/{id}/forecast at a fixed arrival rate on loopback,
// bounded in count and time. Usage: node load.mjs [rate_per_s=200] [seconds=60]
// Prints p50/p90/p99/max latency and the error count; exits 1 if p99 >= 50 ms or any error.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const bin = process.env.MGIV_BIN || path.join(root, 'target/debug/mgiv');
const rate = Number(process.argv[2] || 200), secs = Number(process.argv[3] || 60);
const total = Math.min(rate * secs, 100000); // bounded
const dir = mkdtempSync(path.join(tmpdir(), 'mgiv-load-'));
const db = process.env.LOAD_DB || path.join(dir, 'load.sqlite3');
const pw = 'load-test-password-1';
spawnSync(bin, ['user', 'add', 'load', '--role', 'pharmacist', '--team', 'ward-a', '--password-stdin', '--db', db], { input: pw + '\n' });
const server = spawn(bin, ['serve', '--addr', '127.0.0.1:0', '--db', db], { stdio: ['ignore', 'ignore', 'pipe'] });
const base = await new Promise((resolve, reject) => {
  let err = '';
  server.stderr.on('data', (d) => { err += d; const m = err.match(/listening on (http:\/\/[0-9.:]+) /); if (m) resolve(m[1]); });
  server.on('exit', (c) => reject(new Error('server exited ' + c + err)));
});
const lr = await fetch(base + '/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'load', password: pw }) });
const s = { cookie: lr.headers.get('set-cookie').split(';')[0], csrf: (await lr.json()).csrf_token };
const h = { 'content-type': 'application/json', cookie: s.cookie, 'x-csrf-token': s.csrf };
const pj = await (await fetch(base + '/api/patients', { method: 'POST', headers: h, body: JSON.stringify({ name: 'Load', weight_kg: 70, pre_eclampsia: true, indication: 'pre-eclampsia', creatinine_mg_dl: 0.8 }) })).json();
const pid = pj.patient.id;
await fetch(base + `/api/patients/${pid}/orders`, { method: 'POST', headers: h, body: JSON.stringify({ regimen: '4 g over 20 min, then 1 g/h for 24 h', protocol: 'zuspan' }) });
for (const [v, t] of [[1.6, 4], [1.9, 10]]) {
  await fetch(base + `/api/patients/${pid}/levels`, { method: 'POST', headers: h, body: JSON.stringify({ value: v, unit: 'mmol/L', time: t }) });
}
const url = base + `/api/patients/${pid}/forecast`;
let points = 0;
// warm-up (not counted); the answer has the predicted curve
for (let i = 0; i < 20; i++) points = (await (await fetch(url, { headers: h })).json()).points.length;

const lat = [];
let errors = 0;
const t0 = performance.now();
const inflight = [];
for (let i = 0; i < total; i++) {
  const due = t0 + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const start = performance.now();
  inflight.push(fetch(url, { headers: h }).then(async (r) => {
    const b = await r.arrayBuffer();
    lat.push(performance.now() - start);
    if (r.status !== 200 || b.byteLength < 1000) errors++;
  }).catch(() => { errors++; }));
  if (performance.now() - t0 > secs * 1000 + 30000) break; // bounded in time too
}
await Promise.all(inflight);
const elapsed = (performance.now() - t0) / 1000;
// cold forecasts: a write moves the patient's version, so the next forecast is computed afresh
const cold = [];
for (let i = 0; i < 100; i++) {
  await (await fetch(base + `/api/patients/${pid}/levels`, { method: 'POST', headers: h, body: JSON.stringify({ value: 1.8, unit: 'mmol/L', time: 12 }) })).arrayBuffer();
  const c0 = performance.now();
  const r = await fetch(url, { headers: h });
  await r.arrayBuffer();
  cold.push(performance.now() - c0);
  if (r.status !== 200) errors++;
}
cold.sort((a, b) => a - b);
server.kill('SIGTERM');
rmSync(dir, { recursive: true, force: true });
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(1);
const ok = errors === 0 && Number(q(0.99)) < 50;
console.log(`load: ${lat.length} forecast requests (${points} points each) in ${elapsed.toFixed(1)} s = ${(lat.length / elapsed).toFixed(1)} req/s offered at ${rate}/s; latency ms p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${lat[lat.length - 1].toFixed(1)}; errors ${errors}`);
console.log(`load: cold (uncached) forecast, 100 requests after a write each: p50 ${cold[50].toFixed(1)} ms, p99 ${cold[99].toFixed(1)} ms`);
console.log(`load: ${ok ? 1 : 0} passed, ${ok ? 0 : 1} failed`);
process.exit(ok ? 0 : 1);
