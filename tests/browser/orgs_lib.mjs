// Shared steps of the organisation pages' browser tests (orgs_*.mjs): sign in through the
// tenant's login page and the OIDC IdP, wait for a page of the /admin bundle to finish
// loading, take screenshots, and collect what the browser complained about (a CSP violation
// or a script error fails the test).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { launchBrowser, printResult } from './lib.mjs';

/** The browser, with a `contexts` list closed by `done()`. */
export async function start(shots) {
  mkdirSync(shots, { recursive: true });
  const browser = await launchBrowser();
  const problems = [];
  return {
    browser,
    problems,
    shots,
    /** A fresh context (its own cookies: another person) and page. */
    async person(name) {
      // A failure shot of this person from an earlier run would mislead.
      rmSync(join(shots, `99-failed-${name}.png`), { force: true });
      const context = await browser.newContext({ viewport: { width: 1200, height: 860 } });
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      page.person = name;
      page.on('pageerror', (e) => problems.push(`${name}: script error: ${e.message}`));
      page.on('console', (m) => {
        const text = m.text();
        // A refused API call logs "Failed to load resource" (expected in refusal tests);
        // a CSP violation or any other error is a problem.
        if (m.type() === 'error' && !text.startsWith('Failed to load resource')) {
          problems.push(`${name}: console: ${text}`);
        }
      });
      return page;
    },
    async shot(page, name) {
      await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
    },
    async done() {
      await browser.close();
    },
  };
}

/**
 * Signs `user` in: opens `url` (a tenant page, or an invitation's sign-in link), presses the
 * tenant login page's button, fills the IdP's form, grants consent if asked, and waits until the
 * browser is back on `expectHost` under `expectPath` (/admin, with the page loaded; another
 * path's page is the caller's to wait for).
 */
export async function signIn(page, url, user, password, { expectHost, expectPath = '/admin' } = {}) {
  await page.goto(url);
  const idpForm = page.locator('form[data-form="login"]');
  const start = page.locator('#sso-start');
  const first = await Promise.race([
    idpForm.waitFor().then(() => 'idp'),
    start.waitFor().then(() => 'tenant'),
  ]);
  if (first === 'tenant') await start.click();
  await idpForm.waitFor();
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const consent = page.locator('form[data-form="consent"]');
  const back = (u) =>
    (!expectHost || u.host === expectHost) &&
    (expectPath === '/' ? u.pathname === '/' : u.pathname.startsWith(expectPath));
  const outcome = (promise, name) =>
    promise.then(
      () => name,
      () => null,
    );
  const next = await Promise.race([
    outcome(page.waitForURL(back), 'back'),
    outcome(consent.waitFor(), 'consent'),
    outcome(page.locator('#error-code').waitFor(), 'error'),
  ]);
  if (next === 'consent') {
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(back);
  } else if (next === 'error') {
    throw new Error(`${user} could not sign in: ${await page.locator('body').innerText()}`);
  } else if (next === null) {
    throw new Error(`${user} did not come back to ${expectPath}: at ${page.url()}`);
  }
  if (expectPath === '/admin') await loaded(page);
}

/** Waits until the /admin page in `page` has drawn its content. */
export async function loaded(page) {
  await page.locator('#page-title').waitFor();
  await page.locator('.page:not([aria-busy])').waitFor();
}

/** Follows a link in the navigation (client-side) and waits for the page. */
export async function go(page, linkName) {
  await page
    .getByRole('navigation', { name: 'Organisation settings' })
    .getByRole('link', { name: linkName })
    .click();
  await loaded(page);
}

/** Opens `path` on the page's current origin (a full load) and waits for the page. */
export async function open(page, path) {
  await page.goto(new URL(path, page.url()).href);
  await loaded(page);
}

/**
 * Calls the API from inside the page, as the page's own scripts do (session cookie and the
 * CSRF token from /auth/session): `{status, code}`.
 */
export async function apiFromPage(page, method, path, body) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const session = await fetch('/auth/session', { headers: { accept: 'application/json' } });
      const csrf = session.ok ? (await session.json()).csrf_token : '';
      const res = await fetch(path, {
        method,
        headers: { accept: 'application/json', 'content-type': 'application/json', 'x-csrf-token': csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = await res.json().catch(() => null);
      return { status: res.status, code: json?.error?.code ?? null, message: json?.error?.message ?? null };
    },
    { method, path, body },
  );
}

/** The visible names of the buttons inside `locator`. */
export async function buttonNames(locator) {
  return locator.getByRole('button').evaluateAll((els) => els.map((e) => e.textContent.trim()));
}

/** Runs `body`, prints its result as the last JSON line; on failure a screenshot and exit 1. */
export async function run(session, body) {
  try {
    const result = await body();
    if (session.problems.length) throw new Error(`the browser reported:\n${session.problems.join('\n')}`);
    printResult(result);
  } catch (err) {
    for (const context of session.browser.contexts()) {
      for (const page of context.pages()) {
        await page
          .screenshot({ path: join(session.shots, `99-failed-${page.person ?? 'page'}.png`), fullPage: true })
          .catch(() => {});
        const text = await page
          .locator('body')
          .innerText()
          .catch(() => '');
        console.error(`--- ${page.person ?? 'page'} at ${page.url()}\n${text}`);
      }
    }
    console.error(`${err.stack ?? err}`);
    process.exitCode = 1;
  } finally {
    await session.done();
  }
}
