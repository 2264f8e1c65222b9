// Crash safety: start `mgiv serve`, send a burst of concurrent writes (levels), kill -9 the
// server in the middle, restart it on the same database and check that every write it
// acknowledged (201) is there, and that the audit chain is intact.
// Usage: node crash.mjs sqlite|postgres  (postgres: MGIV_TEST_PG_URL, e.g. from with-postgres.sh)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const bin = process.env.MGIV_BIN || path.join(root, 'target/debug/mgiv');
const backend = process.argv[2] || 'sqlite';
const dir = mkdtempSync(path.join(tmpdir(), 'mgiv-crash-'));
let db = path.join(dir, 'crash.sqlite3');
if (backend === 'postgres') {
  if (!process.env.MGIV_TEST_PG_URL) { console.log('SKIPPED crash test on PostgreSQL: MGIV_TEST_PG_URL is not set'); process.exit(0); }
  db = process.env.MGIV_TEST_PG_URL;
}
const pw = 'crash-test-password-1';
const add = spawnSync(bin, ['user', 'add', 'crash', '--role', 'clinician', '--team', 'ward-a', '--password-stdin', '--db', db], { input: pw + '\n' });
if (add.status !== 0) { console.log(add.stderr.toString()); process.exit(1); }

function start() {
  const s = spawn(bin, ['serve', '--addr', '127.0.0.1:0', '--db', db], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    s.stderr.on('data', (d) => { err += d; const m = err.match(/listening on (http:\/\/[0-9.:]+) /); if (m) resolve([s, m[1]]); });
    s.on('exit', (c) => reject(new Error('server exited ' + c + ': ' + err)));
  });
}

async function login(base) {
  const r = await fetch(base + '/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'crash', password: pw }) });
  const j = await r.json();
  return { cookie: r.headers.get('set-cookie').split(';')[0], csrf: j.csrf_token };
}

const api = (base, s) => async (method, p, body) => {
  const r = await fetch(base + p, { method, headers: { 'content-type': 'application/json', cookie: s.cookie, 'x-csrf-token': s.csrf }, body: body && JSON.stringify(body) });
  return [r.status, await r.json().catch(() => null)];
};

let [server, base] = await start();
let call = api(base, await login(base));
const [st, pj] = await call('POST', '/api/patients', { name: 'Crash Test', weight_kg: 70, pre_eclampsia: true, indication: 'pre-eclampsia' });
if (st !== 201) { console.log('admit failed', st, pj); process.exit(1); }
const pid = pj.patient.id;
await call('POST', `/api/patients/${pid}/orders`, { regimen: '4 g over 20 min, then 1 g/h for 24 h', protocol: 'zuspan' });

// the burst: 8 concurrent writers; kill -9 after 1 s
const acked = [];
let errors = 0, stop = false;
const statuses = {};
const writer = async (w) => {
  for (let i = 0; !stop; i++) {
    try {
      const [s, j] = await call('POST', `/api/patients/${pid}/levels`, { value: 1 + ((w * 1000 + i) % 100) / 100, unit: 'mmol/L', time: 1 + (i % 20) });
      if (s === 201) acked.push(j.record.id); else { errors++; statuses[s] = (statuses[s] || 0) + 1; }
    } catch { errors++; statuses.cut = (statuses.cut || 0) + 1; }
  }
};
const writers = Array.from({ length: 8 }, (_, w) => writer(w));
await new Promise((r) => setTimeout(r, 1000));
server.kill('SIGKILL');
await new Promise((r) => server.on('exit', r));
stop = true;
await Promise.all(writers);

[server, base] = await start();
call = api(base, await login(base));
const [s2, p2] = await call('GET', `/api/patients/${pid}`);
const have = new Set((p2?.records || []).map((r) => r.id));
const lost = acked.filter((id) => !have.has(id));
server.kill('SIGTERM');
await new Promise((r) => server.on('exit', r));
const verify = spawnSync(bin, ['audit', 'verify', '--db', db]);
rmSync(dir, { recursive: true, force: true });
const ok = s2 === 200 && acked.length > 0 && lost.length === 0 && verify.status === 0;
console.log(`crash ${backend}: ${acked.length} writes acknowledged before kill -9, ${errors} not acknowledged ${JSON.stringify(statuses)}, ${lost.length} acknowledged writes lost; audit: ${verify.stdout.toString().trim()}`);
console.log(`crash: ${ok ? 1 : 0} passed, ${ok ? 0 : 1} failed`);
process.exit(ok ? 0 : 1);
