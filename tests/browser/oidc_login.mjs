// Logs in through the OIDC IdP's own form in a real browser:
//
//   node oidc_login.mjs <start-url> <username> <password> <expect-path> <screenshot-dir>
//
// Opens start-url (e.g. a tenant's /auth/login, whose button leads to the IdP), fills the IdP's
// login form (labels "Username" and "Password", button "Sign in"), confirms consent
// ("Continue") if the IdP asks, and waits to land on a URL whose path is expect-path. Prints
// {"url", "status", "body_text"} of that page and writes 01-login.png, 02-consent.png (when
// shown) and 03-landed.png to screenshot-dir. Exits 1 with a screenshot (99-failed.png) and
// the page's text on stderr when it does not land there in time.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { launchBrowser, newPage, printResult } from './lib.mjs';

const [startUrl, username, password, expectPath, shots] = process.argv.slice(2);
if (!shots) {
  console.error('usage: node oidc_login.mjs <start-url> <username> <password> <expect-path> <screenshot-dir>');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const browser = await launchBrowser();
const page = await newPage(browser);
const landed = (url) => url.pathname === expectPath;
try {
  await page.goto(startUrl);
  const login = page.locator('form[data-form="login"]');
  // A tenant's own login page first (tenantgate's /auth/login): its button starts the login.
  const start = page.locator('#sso-start');
  const first = await Promise.race([
    login.waitFor().then(() => 'idp'),
    start.waitFor().then(() => 'tenant'),
  ]);
  if (first === 'tenant') {
    await page.screenshot({ path: join(shots, '00-tenant-login.png') });
    await start.click();
  }
  await login.waitFor();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.screenshot({ path: join(shots, '01-login.png') });
  await page.getByRole('button', { name: 'Sign in' }).click();

  // Either the consent page, a login error, or (consent granted silently) the relying party.
  const consent = page.locator('form[data-form="consent"]');
  const alert = page.getByRole('alert');
  // The losers of the race time out later; their rejections are swallowed here.
  const outcome = (promise, name) => promise.then(() => name, () => null);
  const next = await Promise.race([
    outcome(page.waitForURL(landed), 'landed'),
    outcome(consent.waitFor(), 'consent'),
    outcome(alert.waitFor(), 'alert'),
  ]);
  if (next === null) throw new Error(`did not reach ${expectPath}, a consent page or a login error`);
  if (next === 'alert') throw new Error(`login rejected: ${await alert.innerText()}`);
  if (next === 'consent') {
    await page.screenshot({ path: join(shots, '02-consent.png') });
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(landed);
  }
  await page.waitForLoadState('load');
  await page.screenshot({ path: join(shots, '03-landed.png'), fullPage: true });
  printResult({
    url: page.url(),
    status: page.lastDocument?.status() ?? null,
    body_text: await page.locator('body').innerText(),
  });
} catch (err) {
  await page.screenshot({ path: join(shots, '99-failed.png'), fullPage: true }).catch(() => {});
  const text = await page.locator('body').innerText().catch(() => '');
  console.error(`oidc_login: ${err.message}\nat ${page.url()}\n${text}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
