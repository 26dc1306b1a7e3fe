// Loads /docs (Swagger UI) and /redoc in headless Debian chromium through playwright-core
// and fails unless both render every operation of /openapi.json, and Swagger UI's
// Authorize (OAuth2 password flow) followed by "Try it out" / Execute on
// GET /api/v1/users/me answers 200. Requests leaving the server are refused, so the
// pages must work without internet access.
//
// Usage: node check_docs_pages.mjs BASE_URL USERNAME PASSWORD
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, username, password] = process.argv.slice(2);
if (!base || !username || !password) {
  console.error('usage: check_docs_pages.mjs BASE_URL USERNAME PASSWORD');
  process.exit(2);
}
const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace']);
const TIMEOUT = 30_000;

const document = await (await fetch(`${base}/openapi.json`)).json();
const operations = [];
for (const [path, item] of Object.entries(document.paths)) {
  for (const [method, operation] of Object.entries(item)) {
    if (METHODS.has(method)) operations.push({ path, method, id: operation.operationId, tag: operation.tags[0] });
  }
}

const profile = mkdtempSync(join(tmpdir(), 'vidgen-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
const failures = [];
const offline = [];
const origin = new URL(base).origin;
await browser.route('**/*', (route) => {
  const url = route.request().url();
  if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
  offline.push(url);
  return route.abort();
});

async function swaggerUi() {
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(`${base}/docs`, { waitUntil: 'load' });
  await page.waitForSelector('.opblock');
  const shown = await page.$$eval('.opblock', (blocks) => blocks.map((b) => b.id));
  const missing = operations.filter((op) => !shown.includes(`operations-${op.tag}-${op.id}`));
  if (missing.length || shown.length !== operations.length) {
    failures.push(`Swagger UI shows ${shown.length} of ${operations.length} operations; missing: ${missing.map((op) => op.id).join(', ')}`);
  }
  // Authorize through the OAuth2 password flow.
  await page.click('button.btn.authorize');
  const dialog = page.locator('.auth-container', { hasText: 'oauth2Password' });
  await dialog.locator('#oauth_username').fill(username);
  await dialog.locator('#oauth_password').fill(password);
  await dialog.locator('button.btn.modal-btn.auth.authorize').click();
  // Authorized: the form gives way to a Logout button (an error would stay in the form).
  await dialog.locator('button.btn.modal-btn.auth', { hasText: 'Logout' }).waitFor();
  await page.click('button.btn-done');
  // Try GET /api/v1/users/me.
  const me = page.locator('#operations-Users-get_current_user');
  await me.locator('.opblock-summary').click();
  await me.locator('button.try-out__btn').click();
  await me.locator('button.execute').click();
  const status = me.locator('.live-responses-table tbody .response-col_status').first();
  await status.waitFor();
  const code = (await status.innerText()).trim();
  if (!code.startsWith('200')) failures.push(`Swagger UI's Execute on GET /api/v1/users/me answered ${code}`);
  if (errors.length) failures.push(`Swagger UI raised: ${errors.join('; ')}`);
  console.log(`Swagger UI: ${shown.length} operations shown, GET /api/v1/users/me after Authorize: ${code}`);
  await page.close();
}

async function redoc() {
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(`${base}/redoc`, { waitUntil: 'load' });
  await page.waitForSelector('[data-section-id*="operation/"]');
  // Each operation's section (`tag/<tag>/operation/<id>`; the menu links to the same id).
  const sections = await page.$$eval('[data-section-id*="operation/"]', (nodes) => [
    ...new Set(nodes.map((n) => n.getAttribute('data-section-id').replace(/^.*operation\//, ''))),
  ]);
  const missing = operations.filter((op) => !sections.includes(op.id));
  if (missing.length || sections.length !== operations.length) {
    failures.push(`ReDoc shows ${sections.length} of ${operations.length} operations; missing: ${missing.map((op) => op.id).join(', ')}`);
  }
  if (errors.length) failures.push(`ReDoc raised: ${errors.join('; ')}`);
  console.log(`ReDoc: ${sections.length} operations shown`);
  await page.close();
}

try {
  await swaggerUi();
  await redoc();
} catch (error) {
  failures.push(String(error));
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
if (offline.length) failures.push(`the pages asked for resources elsewhere: ${[...new Set(offline)].join(', ')}`);
console.log(`the document has ${operations.length} operations`);
if (failures.length) {
  for (const failure of failures) console.error(`FAIL: ${failure}`);
  process.exit(1);
}
console.log('both documentation pages work');
