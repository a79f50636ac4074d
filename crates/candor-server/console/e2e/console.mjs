// End-to-end test of the console in headless Chromium (playwright-core driving Debian's
// chromium). Run by crates/candor/tests/console.rs against a fresh `candor serve`:
//   CANDOR_URL, TOKEN_ADMIN, TOKEN_CURATOR, TOKEN_REVIEWER, TOKEN_PLATFORM, TOKEN_AUDITOR,
//   IMAGE (a test image), DIH_A / DIH_B (an image and its 90° rotation), POLICIES (policies.toml),
//   OUT (screenshots), CHROMIUM (executable).
// Exits 0 when every step passed; otherwise prints the failed step and exits 1.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';

// axe-core (devDependency) checks each page for accessibility problems; it is served to the
// page from its own origin (intercepted), so the console's CSP stays as it is.
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing environment variable ${k}`);
  return v;
};
const BASE = env('CANDOR_URL');
const T = {
  admin: env('TOKEN_ADMIN'),
  curator: env('TOKEN_CURATOR'),
  reviewer: env('TOKEN_REVIEWER'),
  reviewer2: env('TOKEN_REVIEWER2'),
  platform: env('TOKEN_PLATFORM'),
  auditor: env('TOKEN_AUDITOR'),
};
const OUT = env('OUT');
const IMAGE = fs.readFileSync(env('IMAGE'));
const DIH_A = env('DIH_A');
const DIH_B = env('DIH_B');
const POLICIES = fs.readFileSync(env('POLICIES'), 'utf8');
fs.mkdirSync(OUT, { recursive: true });

let step = 'start';
function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function call(method, p, tok, body, type) {
  const headers = { Authorization: 'Bearer ' + tok };
  if (type) headers['Content-Type'] = type;
  const r = await fetch(BASE + p, { method, headers, body });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${text}`);
  try {
    return JSON.parse(text);
  } catch (_) {
    return text;
  }
}

// A scan by hash (no file): held when the hash is in `triage` or `urgent`.
async function scanHash(contentId, pdq) {
  const body = {
    context: { surface: 'direct', content_id: contentId, content_type: 'CONTENT_TYPE_IMAGE', sender: { account: 'dora', jurisdiction: 'US' }, recipients: [{ account: 'eve', jurisdiction: 'US' }] },
    signals: { pdq },
  };
  return call('POST', '/v1/scan', T.platform, JSON.stringify(body), 'application/json');
}
const randomPdq = () => crypto.randomBytes(32).toString('hex');

async function scan(contentId) {
  const fd = new FormData();
  fd.append('context', JSON.stringify({
    surface: 'group',
    content_id: contentId,
    content_type: 'CONTENT_TYPE_IMAGE',
    sender: { account: 'alice', jurisdiction: 'US' },
    recipients: [{ account: 'bob', jurisdiction: 'DE' }],
  }));
  fd.append('file', new Blob([IMAGE]), 'image.jpg');
  const r = await fetch(BASE + '/v1/scan', { method: 'POST', headers: { Authorization: 'Bearer ' + T.platform }, body: fd });
  const j = await r.json();
  if (!r.ok) throw new Error('scan: ' + JSON.stringify(j));
  return j;
}

const actionOf = (s) => JSON.stringify(s.recipients);

const browser = await chromium.launch({
  executablePath: env('CHROMIUM'),
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-default-apps', '--disable-sync', '--no-first-run', '--metrics-recording-only', '--disable-dev-shm-usage'],
});
const problems = [];
let shots = 0;
try {
  step = 'setup through the API';
  await call('PUT', '/v1/policies', T.curator, POLICIES, 'application/toml');
  for (const [name, prov] of [['suspect', 'imported'], ['confirmed', 'own_review'], ['triage', 'imported'], ['urgent', 'imported'], ['uploads', 'imported']]) {
    const b = { name, category: 'STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY', provenance: prov };
    if (prov === 'imported') b.list_name = 'e2e list';
    await call('POST', '/v1/banks', T.curator, JSON.stringify(b), 'application/json');
  }
  await call('POST', '/v1/banks/suspect/content', T.curator, IMAGE, 'application/octet-stream');
  const first = await scan('msg-1');
  check(actionOf(first).includes('hold_for_review'), 'first scan is not held: ' + actionOf(first));
  const heldDecision = first.decisions[0].id;

  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const serveAxe = (c) => c.route('**/console/axe.min.js', (r) => r.fulfill({ body: AXE, contentType: 'text/javascript; charset=utf-8' }));
  await serveAxe(context);
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const tokens = Object.values(T);
  page.on('request', (r) => {
    if (tokens.some((t) => r.url().includes(t))) problems.push('a token in a request URL: ' + r.url());
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push('console error: ' + m.text());
  });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  const shot = async (name, p = page) => {
    const file = path.join(OUT, `${String(++shots).padStart(2, '0')}-${name}.png`);
    await p.screenshot({ path: file, fullPage: true });
  };
  const waitText = (sel, text, p = page) => p.locator(sel, { hasText: text }).first().waitFor();
  // axe-core on the page as it is: serious and critical violations fail the run.
  const audit = async (name, p = page) => {
    if (!(await p.evaluate(() => typeof window.axe === 'object'))) await p.addScriptTag({ url: '/console/axe.min.js' });
    const found = await p.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ['violations'] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
    });
    const bad = found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    check(bad.length === 0, `accessibility (${name}): ` + bad.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.join(', ')}`).join('; '));
  };

  step = 'the console is served with a strict CSP';
  const resp = await page.goto(BASE + '/');
  const csp = resp.headers()['content-security-policy'] || '';
  check(csp.includes("script-src 'self'") && !csp.includes('unsafe-inline'), 'CSP: ' + csp);
  check(resp.headers()['x-content-type-options'] === 'nosniff', 'no nosniff');

  step = 'transparency without sign-in';
  await page.goto(BASE + '/#transparency');
  await waitText('#checkpoint', 'localhost/candor');
  await page.locator('#dashboard svg').first().waitFor();
  check((await page.locator('#dashboard svg').count()) >= 6, 'dashboard charts missing');
  await shot('transparency-dashboard');

  const signIn = async (role) => {
    await page.goto(BASE + '/#signin');
    await page.fill('#token', T[role]);
    await page.keyboard.press('Enter');
    await waitText('#signed-in', `(${role.replace(/\d+$/, '')})`);
    check(!page.url().includes(T[role]), 'token in the URL');
  };
  const signOut = async () => {
    await page.click('#sign-out');
    await page.locator('#sign-in-link').waitFor();
  };

  step = 'sign in as each role';
  const expectNav = {
    admin: ['Tokens', 'Banks'],
    curator: ['Banks', 'Policies'],
    reviewer: ['Review', 'Appeals', 'Decisions'],
    platform: ['Decisions'],
    auditor: ['Review', 'Decisions', 'Policies'],
  };
  for (const role of Object.keys(expectNav)) {
    step = 'sign in as ' + role;
    await signIn(role);
    const nav = await page.locator('#nav').innerText();
    for (const p of expectNav[role]) check(nav.includes(p), `${role} has no ${p} page: ${nav}`);
    if (role !== 'admin') check(!nav.includes('Tokens'), `${role} sees Tokens`);
    await page.waitForLoadState('networkidle');
    await shot('signed-in-' + role);
    await signOut();
  }
  step = 'a wrong token is refused at sign-in';
  await page.goto(BASE + '/#signin');
  await page.fill('#token', 'candor_not-a-token');
  await page.keyboard.press('Enter');
  await waitText('#token-err', 'Not signed in');

  step = 'review with the keyboard: b adds to a bank';
  await signIn('reviewer');
  await page.goto(BASE + '/#review');
  await page.locator('#queue li[data-id]').first().waitFor();
  await waitText('#review-detail', 'suspect-review');
  await page.keyboard.press('?');
  await page.locator('#help-dialog[open]').waitFor();
  await shot('review-help');
  await page.keyboard.press('Escape');
  await page.focus('#queue');
  await page.keyboard.press('b');
  await page.locator('#bank-dialog[open]').waitFor();
  await page.selectOption('#bank-pick', 'confirmed');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await waitText('#review-status', 'added to confirmed');
  await waitText('#queue', 'The queue is empty');
  await shot('review-after-confirm');

  step = 'review queue: priority order, j/k move, a confirms, r rejects, x and bulk';
  const tri = [randomPdq(), randomPdq(), randomPdq()];
  const urg = [randomPdq(), randomPdq()];
  for (const h of tri) await call('POST', '/v1/banks/triage/content', T.curator, JSON.stringify({ pdq: h }), 'application/json');
  for (const h of urg) await call('POST', '/v1/banks/urgent/content', T.curator, JSON.stringify({ pdq: h }), 'application/json');
  const queued = [['q-1', tri[0]], ['q-2', urg[0]], ['q-3', tri[1]], ['q-4', tri[2]], ['q-5', urg[1]]];
  const itemOf = {};
  for (const [id, h] of queued) {
    const r = await scanHash(id, h);
    check(r.decisions.length === 1 && r.decisions[0].review_item, `${id} not held: ${JSON.stringify(r.recipients)}`);
    itemOf[id] = r.decisions[0].review_item;
  }
  await page.goto(BASE + '/#review');
  await page.reload(); // the same fragment: load the queue again
  const queueOrder = () => page.locator('#queue li[data-id] .puid').allTextContents();
  await waitText('#queue', 'q-5');
  check(JSON.stringify(await queueOrder()) === JSON.stringify(['q-1', 'q-2', 'q-3', 'q-4', 'q-5']), 'oldest first: ' + (await queueOrder()));
  await page.selectOption('#queue-order', 'priority');
  await page.locator('#queue li[data-id]').first().locator('.puid', { hasText: 'q-2' }).waitFor();
  check(JSON.stringify(await queueOrder()) === JSON.stringify(['q-2', 'q-5', 'q-1', 'q-3', 'q-4']), 'priority first: ' + (await queueOrder()));
  const prios = await page.locator('#queue li[data-id] .prio').allTextContents();
  check(prios[0] === 'priority 90' && prios[4] === 'priority 50', 'priorities shown: ' + prios);
  await shot('review-by-priority');
  await page.selectOption('#queue-order', 'oldest');
  await page.locator('#queue li[data-id]').first().locator('.puid', { hasText: 'q-1' }).waitFor();
  await page.focus('#queue');
  const current = () => page.locator('#queue li.current .puid').innerText();
  await page.keyboard.press('j');
  check((await current()) === 'q-2', 'j moves down: ' + (await current()));
  await page.keyboard.press('k');
  check((await current()) === 'q-1', 'k moves up: ' + (await current()));
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  check((await current()) === 'q-3', 'j j: ' + (await current()));
  await waitText('#review-detail', 'triage-review');
  await page.keyboard.press('a');
  await waitText('#review-status', 'q-3: confirmed');
  await page.locator('#queue li[data-id] .puid', { hasText: 'q-3' }).waitFor({ state: 'detached' });
  check((await current()) === 'q-4', 'after a, the queue moves on: ' + (await current()));
  await page.keyboard.press('r');
  await waitText('#review-status', 'q-4: rejected');
  await page.locator('#queue li[data-id] .puid', { hasText: 'q-4' }).waitFor({ state: 'detached' });
  const st = async (id) => (await call('GET', '/v1/review/' + itemOf[id], T.reviewer)).status;
  check((await st('q-3')) === 'confirmed' && (await st('q-4')) === 'rejected', 'a/r outcomes not stored');
  // Bulk: q-1 picked with x, q-2 with its checkbox, rejected together.
  await page.keyboard.press('k');
  await page.keyboard.press('k');
  check((await current()) === 'q-1', 'back to q-1: ' + (await current()));
  await page.keyboard.press('x');
  await page.locator(`#queue li[data-id="${itemOf['q-2']}"] input[type=checkbox]`).check();
  await shot('review-bulk-selection');
  await page.locator('button', { hasText: 'Reject selected' }).click();
  await waitText('#review-status', '2 of 2 items rejected');
  check((await st('q-1')) === 'rejected' && (await st('q-2')) === 'rejected', 'bulk reject not stored');
  await page.locator(`#queue li[data-id="${itemOf['q-1']}"]`).waitFor({ state: 'detached' });
  await page.locator(`#queue li[data-id="${itemOf['q-2']}"]`).waitFor({ state: 'detached' });
  check(JSON.stringify(await queueOrder()) === JSON.stringify(['q-5']), 'after bulk: ' + (await queueOrder()));
  await page.locator(`#queue li[data-id="${itemOf['q-5']}"] input[type=checkbox]`).check();
  await page.locator('button', { hasText: 'Confirm selected' }).click();
  await waitText('#queue', 'The queue is empty');
  check((await st('q-5')) === 'confirmed', 'bulk confirm not stored');

  step = 'the next scan of that image is withheld';
  const second = await scan('msg-2');
  check(actionOf(second).includes('withhold'), 'second scan not withheld: ' + actionOf(second));
  const withheld = second.decisions.find((d) => d.action === 'withhold');
  check(withheld, 'no withhold decision');
  await page.goto(BASE + '/#decisions');
  await page.fill('#main input[type=search]', withheld.id);
  await page.keyboard.press('Enter');
  await waitText('#decision-out', 'withhold by policy confirmed-withhold');
  step = 'decisions: the notices exactly as the sender and the recipient received them';
  await page.locator('#decision-out article.notice[data-role=recipient] pre.notice-text').waitFor();
  for (const [acc, role] of [['alice', 'sender'], ['bob', 'recipient']]) {
    const theirs = (await call('GET', '/v1/notices?account=' + acc, T.platform)).filter((n) => n.decision === withheld.id);
    check(theirs.length === 1, `${acc} has ${theirs.length} notices about the decision`);
    const shown = await page.locator(`#decision-out article.notice[data-id="${theirs[0].id}"][data-role=${role}] pre.notice-text`).innerText();
    check(shown === theirs[0].text, `the ${role}'s notice differs from what they received`);
  }
  await shot('decision-withheld');
  await page.locator('#decision-by').selectOption('puid');
  await page.fill('#main input[type=search]', 'msg-2');
  await page.keyboard.press('Enter');
  await waitText('#decision-count', 'about content msg-2');
  const found = await page.locator('#decision-out article.decision').evaluateAll((as) => as.map((a) => a.dataset.id));
  check(found.length === second.decisions.length && second.decisions.every((d) => found.includes(d.id)), 'search by content id: ' + found.join(','));

  step = 'appeals: the original decider is refused, another reviewer reverses and retracts the matched entry';
  const a1 = await call('POST', '/v1/appeals', T.platform, JSON.stringify({ decision: heldDecision, account: 'alice', reason: 'It is a holiday photo.' }), 'application/json');
  const a2 = await call('POST', '/v1/appeals', T.platform, JSON.stringify({ decision: withheld.id, account: 'alice', reason: 'Still a holiday photo.' }), 'application/json');
  await page.goto(BASE + '/#appeals');
  const card1 = page.locator(`article[data-id="${a1.id}"]`);
  await card1.waitFor();
  await card1.locator('input[type=text]').fill('Confirmed on review.');
  await card1.locator('button[type=submit]').click();
  await card1.locator('.status.error').waitFor();
  const refusal = await card1.locator('.status.error').innerText();
  check(/decid|review/i.test(refusal), 'refusal does not say why: ' + refusal);
  // The same reviewer banked the content the second decision matched: refused too.
  let card2 = page.locator(`article[data-id="${a2.id}"]`);
  await card2.locator('select').selectOption('reversed');
  await card2.locator('input[type=text]').fill('Context shows it is news.');
  await card2.locator('button[type=submit]').click();
  await waitText(`article[data-id="${a2.id}"] .status.error`, 'added the content');
  await signOut();
  await signIn('reviewer2');
  await page.goto(BASE + '/#appeals');
  card2 = page.locator(`article[data-id="${a2.id}"]`);
  await card2.waitFor();
  await card2.locator('select').selectOption('reversed');
  await card2.locator('input[type=text]').fill('Context shows it is news.');
  await card2.locator('input.retract-matched').check();
  await card2.locator('button[type=submit]').click();
  await waitText(`article[data-id="${a2.id}"] .status.ok`, 'Retracted: confirmed/');
  await shot('appeals');
  const after = await call('GET', '/v1/decisions/' + withheld.id, T.reviewer);
  check(after.status === 'reversed', 'decision not reversed: ' + after.status);
  const rescan = await scan('msg-2b');
  check(!actionOf(rescan).includes('withhold'), 'after the retraction the image is still withheld: ' + actionOf(rescan));
  await signOut();

  step = 'banks: retract an entry';
  await signIn('curator');
  await page.goto(BASE + '/#banks');
  await page.click('button[aria-label="Open bank suspect"]');
  const entry = page.locator('#bank-content tbody tr[data-id]').first();
  await entry.waitFor();
  await entry.locator('input[type=text]').fill('Added by mistake.');
  await entry.locator('button', { hasText: 'Retract' }).click();
  await waitText('#bank-status', 'retracted');
  await waitText('#bank-content tbody', 'retracted: Added by mistake.');
  await shot('banks-retracted');
  const third = await scan('msg-3');
  check(!actionOf(third).includes('hold_for_review'), 'retracted entry still matches: ' + actionOf(third));

  step = 'banks: add by upload, search by hash, disable and enable an entry and the bank';
  await page.goto(BASE + '/#banks');
  await page.click('button[aria-label="Open bank uploads"]');
  await page.locator('#bank-title', { hasText: 'uploads' }).waitFor();
  await page.getByLabel('Or upload an image or file (hashed by the server, then discarded)').setInputFiles(DIH_A);
  await page.click('#add-content button[type=submit]');
  await waitText('#bank-status', 'Added');
  const upRow = page.locator('#bank-content tbody tr[data-id]').first();
  await upRow.waitFor();
  const upId = await upRow.getAttribute('data-id');
  const sigText = await upRow.locator('td').nth(1).innerText();
  const upPdq = (sigText.match(/pdq ([0-9a-f]{64})/) || [])[1];
  check(upPdq, 'the uploaded entry has no PDQ: ' + sigText);
  const lookupUploads = async () => (await call('GET', '/v1/lookup?pdq=' + upPdq, T.reviewer)).matches.filter((m) => m.bank === 'uploads');
  check((await lookupUploads()).length === 1, 'the uploaded image does not match');
  await page.getByLabel('Search this bank by PDQ hash').fill(upPdq);
  await page.click('#bank-content form[role=search] button[type=submit]');
  await waitText('#bank-content table', 'Entries within the bank threshold');
  const found2 = await page.locator('#bank-content table', { hasText: 'Entries within the bank threshold' }).innerText();
  check(found2.includes(upId) && /\b0\b/.test(found2), 'search by hash does not find the entry at distance 0: ' + found2);
  await shot('banks-upload-search');
  await upRow.locator('button', { hasText: 'Disable' }).click();
  await waitText('#bank-status', upId + ': disabled');
  await waitText(`#bank-content tr[data-id="${upId}"] td.state`, 'disabled');
  check((await lookupUploads()).length === 0, 'a disabled entry still matches');
  await page.locator(`#bank-content tr[data-id="${upId}"] button`, { hasText: 'Enable' }).click();
  await waitText('#bank-status', upId + ': enabled');
  check((await lookupUploads()).length === 1, 'an enabled entry does not match');
  await page.locator('button', { hasText: 'Enable / disable this bank' }).click();
  await waitText('#bank-status', 'uploads disabled');
  check((await call('GET', '/v1/banks/uploads', T.curator)).enabled === false, 'bank not disabled');
  check((await lookupUploads()).length === 0, 'a disabled bank still matches');
  await page.locator('button', { hasText: 'Enable / disable this bank' }).click();
  await waitText('#bank-status', 'uploads enabled');
  check((await lookupUploads()).length === 1, 'an enabled bank does not match');

  step = 'banks: import a hash list with progress';
  const list = Array.from({ length: 3000 }, () => randomPdq()).join('\n') + '\n';
  await page.getByLabel('Import a hash list (one per line: <pdq> or <signal> <hex>)').setInputFiles({ name: 'list.txt', mimeType: 'text/plain', buffer: Buffer.from(list) });
  await page.locator('button', { hasText: /^Import$/ }).click();
  await waitText('#bank-status', 'Imported 3000 hashes');
  check((await page.locator('#bank-content progress').evaluate((p) => p.value)) === 100, 'import progress not at 100');
  const banksNow = await call('GET', '/v1/banks', T.curator);
  check(banksNow.find((b) => b.name === 'uploads').content_count === 3001, 'import count');
  await shot('banks-imported');

  step = 'banks: compare two images (every orientation) and two hashes';
  await page.locator('#compare-a-file').setInputFiles(DIH_A);
  await page.locator('#compare-b-file').setInputFiles(DIH_B);
  await page.click('#compare-form button[type=submit]');
  await waitText('#compare-out', 'A match');
  const within = await page.locator('#compare-out tr.within').evaluateAll((rs) => rs.map((r) => r.dataset.orientation));
  check(within.length >= 1 && within.every((o) => o === 'rot90' || o === 'rot270'), 'the matching orientation: ' + within.join(','));
  check((await page.locator('#compare-out tbody tr').count()) >= 8, 'not every orientation shown');
  await shot('banks-compare-images');
  await page.locator('#compare-a-file').setInputFiles([]);
  await page.locator('#compare-b-file').setInputFiles([]);
  // The last 16 bits flipped: distance 16.
  const far = upPdq.slice(0, 60) + [...upPdq.slice(60)].map((c) => (15 - parseInt(c, 16)).toString(16)).join('');
  await page.fill('#compare-a-hash', upPdq);
  await page.fill('#compare-b-hash', 'zz');
  await page.click('#compare-form button[type=submit]');
  await waitText('#compare-b-hash-err', 'Give a PDQ hash');
  await page.fill('#compare-b-hash', far);
  await page.fill('#compare-threshold', '2');
  await page.click('#compare-form button[type=submit]');
  await waitText('#compare-out', 'No match');
  await waitText('#compare-out', 'threshold 2');
  check((await page.locator('#compare-out tbody tr').count()) === 1, 'hash against hash is one row');

  step = 'policies: an invalid field shows its error at the field';
  await page.goto(BASE + '/#policies');
  await page.selectOption('#policy-pick', { label: 'confirmed-withhold' });
  const action = page.locator('#policy-form input[name=action]');
  await action.fill('destroy');
  await page.click('#policy-form button[type=submit]');
  await page.locator('#policy-form input[name=action][aria-invalid=true]').waitFor();
  const fieldErr = await page.locator('#' + (await action.getAttribute('id')) + '-err').innerText();
  check(fieldErr.length > 0, 'no error at the action field');
  await waitText('#policy-status', 'Not saved');
  await shot('policies-field-error');
  step = 'policies: a valid change is simulated before saving, then saved';
  await action.fill('hold_for_review');
  await page.fill('#policy-form input[name=jurisdictions]', 'DE, FR');
  await page.fill('#policy-form input[name=review_priority]', '80');
  await page.click('#simulate');
  await waitText('#policy-preview', 'What this change does');
  const prow = (f) => page.locator(`#preview-policies tr[data-policy="confirmed-withhold"][data-field="${f}"]`);
  check((await prow('action').innerText()).includes('withhold') && (await prow('action').innerText()).includes('hold_for_review'), 'action change not shown');
  check((await prow('jurisdictions').locator('td.added').innerText()) === 'DE, FR', 'jurisdictions added not shown');
  check((await prow('review_priority').innerText()).includes('80'), 'review priority change not shown');
  const eff = await page.locator('#preview-effects tbody tr[data-subject="confirmed"]').allInnerTexts();
  check(eff.some((t) => t.includes('withhold (confirmed-withhold)') && t.includes('hold_for_review (confirmed-withhold)') && t.includes('DE')), 'answer changes: ' + eff.join(' | '));
  check(eff.some((t) => t.includes('withhold (confirmed-withhold)') && /\bdeliver\b/.test(t)), 'delivered elsewhere now: ' + eff.join(' | '));
  await shot('policies-preview');
  // The preview refuses what saving refuses, at the field.
  await page.fill('#policy-form input[name=review_priority]', '300');
  await page.click('#simulate');
  await page.locator('#policy-form input[name=review_priority][aria-invalid=true]').waitFor();
  await page.fill('#policy-form input[name=review_priority]', '80');
  await page.click('#policy-form button[type=submit]');
  await waitText('#policy-status', 'Saved');
  await signOut();

  step = 'transparency: a notice proof verifies in the browser, a tampered one is refused';
  let notices = await call('GET', '/v1/notices?account=bob', T.platform);
  if (!notices.length) notices = await call('GET', '/v1/notices?account=alice', T.platform);
  check(notices.length > 0, 'no notices');
  const proof = await call('GET', `/v1/notices/${notices[0].id}/proof`, T.platform);
  check(typeof proof === 'string' && proof.startsWith('c2sp.org/tlog-proof@v1'), 'not a proof file');
  await page.goto(BASE + '/#transparency');
  await page.locator('#log-key').waitFor();
  // Poll from here: the page's CSP forbids the eval that waitForFunction's polling needs.
  for (let i = 0; i < 150 && !(await page.locator('#log-key').inputValue()); i++) await page.waitForTimeout(100);
  check((await page.locator('#log-key').inputValue()).length > 0, 'the log key never loaded');
  await page.fill('#proof-text', proof);
  await page.click('#proof-form button[type=submit]');
  await waitText('#proof-result', 'Proof verified');
  await shot('proof-verified');
  // Flip one character of the entry: its leaf hash no longer matches the proof.
  const lines = proof.split('\n');
  const ex = lines[1];
  check(ex.startsWith('extra '), 'no extra line');
  const pos = 6 + Math.floor((ex.length - 6) / 2);
  lines[1] = ex.slice(0, pos) + (ex[pos] === 'A' ? 'B' : 'A') + ex.slice(pos + 1);
  await page.fill('#proof-text', lines.join('\n'));
  await page.click('#proof-form button[type=submit]');
  await waitText('#proof-result', 'Proof refused');
  // And a checkpoint signed by someone else: the signature line changed.
  const sigAt = proof.lastIndexOf('\u2014 ');
  const badSig = proof.slice(0, proof.length - 6) + (proof[proof.length - 6] === 'A' ? 'B' : 'A') + proof.slice(proof.length - 5);
  check(sigAt > 0, 'no signature line');
  await page.fill('#proof-text', badSig);
  await page.click('#proof-form button[type=submit]');
  await waitText('#proof-result', 'Proof refused');
  await shot('proof-refused');

  step = 'transparency: entries read from the tiles, each checked; charts recomputed from them';
  const cpText = await (await fetch(BASE + '/log/checkpoint')).text();
  const logSize = Number(cpText.split('\n')[1]);
  await waitText('#entries-checked', 'each matching its leaf hash');
  const rows = await page.locator('#entries tbody tr').count();
  check(rows === ((logSize - 1) % 256) + 1, `entries shown ${rows}, log size ${logSize}`);
  const newest = await page.locator('#entries tbody tr').first().getAttribute('data-index');
  check(Number(newest) === logSize - 1, `newest entry shown ${newest}, log size ${logSize}`);
  // The newest pages are the import's bank entries: page back to the decisions.
  for (let i = 0; i < 40 && !(await page.locator('#entry-type option[value=decision]').count()); i++) {
    const before = await page.locator('#entries tbody tr').first().getAttribute('data-index');
    await page.click('#entries-older');
    for (let j = 0; j < 100 && (await page.locator('#entries tbody tr').first().getAttribute('data-index').catch(() => before)) === before; j++) await page.waitForTimeout(100);
    await waitText('#entries-checked', 'each matching its leaf hash');
  }
  await page.locator('#entry-type').selectOption('decision');
  const decRows = await page.locator('#entries tbody tr').count();
  const decTypes = await page.locator('#entries tbody tr td:nth-child(3)').allTextContents();
  check(decRows > 0 && decTypes.every((t) => t === 'decision'), 'the type filter: ' + decTypes.join(','));
  check((await page.locator('#log-charts svg').count()) === 3, 'charts from the log missing');
  const perDay = await page.locator('#log-charts svg').first().getAttribute('aria-label');
  check(/\d{4}-\d{2}-\d{2}: /.test(perDay), 'decisions per day: ' + perDay);
  await page.locator('#per-day-by').selectOption('surface');
  const perSurface = await page.locator('#log-charts svg').first().getAttribute('aria-label');
  check(/^Decisions per day, by surface: \d{4}-\d{2}-\d{2}: .*\b(direct|group|public) [1-9]/.test(perSurface), 'decisions per day by surface: ' + perSurface);
  await page.locator('#per-day-by').selectOption('jurisdiction');
  const perJur = await page.locator('#log-charts svg').first().getAttribute('aria-label');
  check(/^Decisions per day, by jurisdiction: \d{4}-/.test(perJur) && perJur !== perSurface, 'decisions per day by jurisdiction: ' + perJur);
  const hist = await page.locator('#log-charts svg').nth(1).getAttribute('aria-label');
  check(/(exact \(no distance\)|0–3) [1-9]/.test(hist), 'the distance histogram counts the exact-image decisions: ' + hist);
  await shot('transparency-entries');

  step = 'tokens (admin): create, shown once, revoke';
  await signIn('admin');
  await page.goto(BASE + '/#tokens');
  await page.locator('#main select').selectOption('auditor');
  await page.fill('#main input[type=text]', 'e2e-auditor');
  await page.click('#main form button[type=submit]');
  await waitText('#token-status', 'shown once');
  const shown = await page.locator('#token-status input').inputValue();
  check(shown.startsWith('candor_'), 'no token shown');
  await shot('tokens');
  await page.locator('button', { hasText: 'Revoke e2e-auditor' }).click();
  await waitText('#token-status', 'Revoked e2e-auditor');
  await signOut();

  step = 'keyboard only: the skip link first, focus visible';
  await page.goto(BASE + '/#transparency');
  await page.locator('#dashboard svg').first().waitFor();
  // Back from the header's last stop: the skip link comes first in the tab order.
  await page.focus('#sign-in-link');
  for (let i = 0; i < 6 && !(await page.evaluate(() => document.activeElement.className === 'skip')); i++) await page.keyboard.press('Shift+Tab');
  const firstStop = await page.evaluate(() => ({ cls: document.activeElement.className, outline: getComputedStyle(document.activeElement).outlineStyle }));
  check(firstStop.cls === 'skip' && firstStop.outline !== 'none', 'the first Tab stop: ' + JSON.stringify(firstStop));
  await page.keyboard.press('Enter');
  check(await page.evaluate(() => document.activeElement.id === 'main'), 'the skip link does not move focus to the content');

  step = 'every page at 1280x800 and 390x844: screenshots, no overflow at phone width, axe';
  const phoneCtx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  await serveAxe(phoneCtx);
  const phone = await phoneCtx.newPage();
  phone.setDefaultTimeout(15000);
  phone.on('pageerror', (e) => problems.push('page error (phone): ' + e.message));
  const tour = [
    [null, 'transparency', '#dashboard svg'],
    [null, 'signin', '#token'],
    ['reviewer', 'review', '#queue'],
    ['reviewer', 'appeals', '#appeals'],
    ['reviewer', 'decisions', '#decision-by'],
    ['curator', 'banks', '#bank-list table'],
    ['curator', 'policies', '#policy-form'],
    ['admin', 'tokens', '#main table'],
  ];
  for (const [p, label] of [[page, 'desktop'], [phone, 'phone']]) {
    let who = null;
    for (const [role, id, ready] of tour) {
      step = `${id} (${role || 'anyone'}) at ${label} width`;
      if (role && role !== who) {
        await p.goto(BASE + '/#signin');
        await p.fill('#token', T[role]);
        await p.keyboard.press('Enter');
        await waitText('#signed-in', `(${role})`, p);
        who = role;
      }
      await p.goto(BASE + '/#' + id);
      await p.locator(ready).first().waitFor();
      if (id === 'decisions') {
        await p.fill('#main input[type=search]', withheld.id);
        await p.keyboard.press('Enter');
        await p.locator('#decision-out article.notice').first().waitFor();
      }
      if (id === 'banks') {
        await p.click('button[aria-label="Open bank confirmed"]');
        await p.locator('#bank-title', { hasText: 'confirmed' }).waitFor();
      }
      if (id === 'policies') {
        await p.click('#simulate');
        await waitText('#policy-preview', 'What this change does', p);
      }
      await p.waitForLoadState('networkidle');
      if (label === 'phone') {
        const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        check(overflow <= 1, `${id} is wider than a phone by ${overflow}px`);
      }
      await shot(`${label}-${id}`, p);
      await audit(`${id} at ${label} width`, p);
      if (label === 'desktop' && (id === 'review' || id === 'transparency')) {
        // The README's pictures: the viewport only (small files).
        if (id === 'review') {
          await scanHash('readme-1', tri[0]);
          await scanHash('readme-2', urg[0]);
          await p.reload();
          await p.locator('#queue li[data-id]').nth(1).waitFor();
          await p.selectOption('#queue-order', 'priority');
          await p.locator('#queue li[data-id]').first().locator('.puid', { hasText: 'readme-2' }).waitFor();
          await waitText('#review-detail', 'Statement of reasons', p);
        }
        // Transparency: its numbers dashboard (the charts), not the proof form above it.
        if (id === 'transparency') await p.locator('section[aria-label="Numbers"]').screenshot({ path: path.join(OUT, 'readme-transparency.png') });
        else await p.screenshot({ path: path.join(OUT, `readme-${id}.png`) });
      }
    }
  }

  step = 'no problems seen by the browser';
  check(problems.length === 0, problems.join('\n'));
  console.log(`console e2e: all steps passed; ${shots} screenshots in ${OUT}`);
} catch (e) {
  console.error(`console e2e: FAILED at step "${step}": ${e.message}`);
  if (problems.length) console.error(problems.join('\n'));
  await browser.close();
  process.exit(1);
}
await browser.close();
