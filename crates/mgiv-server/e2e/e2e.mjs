// End-to-end test of `mgiv serve` in Debian's headless Chromium (playwright-core, no browser
// download): sign in, admit a patient, enter a Zuspan order, see the pump settings and alerts,
// enter two levels, run and accept the TDM recommendation, print the report. Screenshots go to
// E2E_OUT (default docs/img/server). Usage: node e2e.mjs (MGIV_BIN: the mgiv binary).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const bin = process.env.MGIV_BIN || path.join(root, 'target/debug/mgiv');
const out = path.resolve(root, process.env.E2E_OUT || 'docs/img/server');
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
mkdirSync(out, { recursive: true });
const dir = mkdtempSync(path.join(tmpdir(), 'mgiv-e2e-'));
const db = path.join(dir, 'e2e.sqlite3');
const password = 'pharmacist-password-1';

let passed = 0, failed = 0;
function check(name, ok, detail = '') {
  if (ok) { passed++; console.log(`ok - ${name}`); } else { failed++; console.log(`not ok - ${name} ${detail}`); }
}

const add = spawnSync(bin, ['user', 'add', 'pharm', '--role', 'pharmacist', '--team', 'ward-a', '--password-stdin', '--db', db], { input: password + '\n' });
check('mgiv user add', add.status === 0, add.stderr?.toString());

const server = spawn(bin, ['serve', '--addr', '127.0.0.1:0', '--db', db], { stdio: ['ignore', 'ignore', 'pipe'] });
const base = await new Promise((resolve, reject) => {
  let err = '';
  const t = setTimeout(() => reject(new Error('server did not start: ' + err)), 60000);
  server.stderr.on('data', (d) => {
    err += d.toString();
    const m = err.match(/listening on (http:\/\/[0-9.:]+) /);
    if (m) { clearTimeout(t); resolve(m[1]); }
  });
  server.on('exit', (c) => reject(new Error(`server exited ${c}: ${err}`)));
});

const browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.setDefaultTimeout(60000);
  await page.goto(base + '/');
  check('anonymous visit is sent to sign-in', page.url().endsWith('/login'));
  await page.fill('input[name=username]', 'pharm');
  await page.fill('input[name=password]', password);
  await page.screenshot({ path: path.join(out, '01-sign-in.png') });
  await page.click('button[type=submit]');
  await page.waitForSelector('h1:has-text("Ward list")');
  check('signed in to the ward list', true);

  const f = '#admit ';
  await page.fill(f + 'input[name=name]', 'Ms A. Example');
  await page.fill(f + 'input[name=mrn]', 'MRN-0042');
  await page.fill(f + 'input[name=weight_kg]', '70');
  await page.fill(f + 'input[name=age_y]', '30');
  await page.selectOption(f + 'select[name=sex]', 'f');
  await page.fill(f + 'input[name=creatinine_mg_dl]', '0.8');
  await page.check(f + 'input[name=pregnant]');
  await page.check(f + 'input[name=pre_eclampsia]');
  await page.selectOption(f + 'select[name=indication]', 'pre-eclampsia');
  await page.screenshot({ path: path.join(out, '02-ward-admit.png'), fullPage: true });
  await page.click(f + 'button[type=submit]');
  await page.waitForSelector('h1:has-text("Ms A. Example")');
  check('patient admitted', page.url().includes('/patients/'));

  const o = '#order-form ';
  await page.fill(o + 'input[name=regimen]', '4 g over 20 min, then 1 g/h for 24 h');
  await page.fill(o + 'input[name=protocol]', 'zuspan');
  await page.fill(o + 'input[name=bag]', '40 g in 1000 mL');
  await page.click(o + 'button[type=submit]');
  await page.waitForSelector('table.pump');
  const rates = await page.$$eval('td.pump-rate', (tds) => tds.map((t) => t.textContent.trim()));
  check('pump settings shown (300.0 then 25.0 mL/h)', rates[0] === '300.0' && rates[1] === '25.0', JSON.stringify(rates));
  const alerts = await page.$$eval('section ul.alerts li, section p.ok', (x) => x.length);
  check('alerts section shown', alerts > 0);
  check('forecast plot drawn', (await page.$$('svg.forecast polyline')).length === 1);
  await page.screenshot({ path: path.join(out, '03-order-pump-alerts.png'), fullPage: true });

  for (const [v, unit, t] of [['4.1', 'mg/dL', '4'], ['1.9', 'mmol/L', '10']]) {
    const l = '#level-form ';
    await page.fill(l + 'input[name=value]', v);
    await page.selectOption(l + 'select[name=unit]', unit);
    await page.fill(l + 'input[name=time]', t);
    await page.click(l + 'button[type=submit]');
    await page.waitForLoadState('load');
  }
  const levels = await page.$$eval('table.levels tbody tr.current', (r) => r.length);
  check('two levels entered', levels === 2, `rows ${levels}`);
  check('levels drawn on the plot', (await page.$$('svg.forecast circle.level')).length === 2);

  await page.click('#adjust-form button');
  await page.waitForSelector('.rec.status-proposed');
  check('TDM recommendation proposed with reasoning', (await page.$$('.rec ul.reasoning li')).length > 0);
  await page.click('#accept');
  await page.waitForSelector('.rec.status-accepted');
  check('recommendation accepted', true);
  await page.screenshot({ path: path.join(out, '04-patient-tdm-accepted.png'), fullPage: true });

  await page.click('#report-link');
  await page.waitForSelector('article.report');
  await page.emulateMedia({ media: 'print' });
  await page.screenshot({ path: path.join(out, '05-report-print.png'), fullPage: true });
  await page.pdf({ path: path.join(out, 'report.pdf'), format: 'A4', printBackground: true });
  const text = await page.textContent('article.report');
  check('printed report has the accepted recommendation', text.includes('ACCEPTED') && text.includes('Magnesium sulfate report'));
  check('print stylesheet hides forms and navigation', await page.$eval('header', (h) => getComputedStyle(h).display === 'none'));
} catch (e) {
  failed++;
  console.log('not ok - ' + e.stack);
} finally {
  await browser.close();
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
