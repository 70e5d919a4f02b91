// The platform console (/platform on the apex): a platform admin signs in by pasting a token
// (with the keyboard), is refused with a tenant's token first; searches for globex and suspends
// it (its host then answers 403 tenant_suspended), reactivates it; grants read-only break-glass
// access to acme with a reason; downloads acme's export; grants and revokes access to globex;
// deletes sleepy (after typing its slug)
// and restores it; signs out. Every page is photographed.
//
//   node platform_console.mjs <apex-origin> <screenshot-dir> <admin-token> <tenant-token>
//
// Prints one JSON line with what the Rust test asserts (tests/gateway/browser_platform.rs).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { loaded, run, start } from './orgs_lib.mjs';

const [origin, shots, adminToken, tenantToken] = process.argv.slice(2);
if (!tenantToken) {
  console.error('usage: node platform_console.mjs <apex-origin> <shots> <admin-token> <tenant-token>');
  process.exit(2);
}
const port = new URL(origin).port;
const session = await start(shots);

/** The text of the page's alert, or null. */
const alertCode = async (page) => {
  const alert = page.locator('[role="alert"] .error-code');
  return (await alert.count()) ? alert.first().innerText() : null;
};

/** The slugs listed in the tenants table. */
const listed = (page) => page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.slug));

/** Polls `url` (a tenant host's API) in `probe` until its error code satisfies `want`. */
async function until(probe, url, want, ms = 15_000) {
  const deadline = Date.now() + ms;
  let seen = null;
  while (Date.now() < deadline) {
    const response = await probe.goto(url);
    const body = await response.json().catch(() => null);
    seen = { status: response.status(), code: body?.error?.code ?? null };
    if (want(seen)) return seen;
    await probe.waitForTimeout(300);
  }
  return seen;
}

/** Submits the form `id` (its button, by name) and waits for the redrawn page's notice. */
async function submit(page, id, button, notice) {
  await page.locator(`form#${id}`).getByRole('button', { name: button }).click();
  await page.locator('.page .notice', { hasText: notice }).waitFor();
}

await run(session, async () => {
  const result = {};
  const admin = await session.person('admin');

  // Not signed in: the console sends the browser to its sign-in page.
  await admin.goto(`${origin}/platform`);
  await loaded(admin);
  result.start_path = new URL(admin.url()).pathname;
  result.sign_in_heading = await admin.locator('#page-title').innerText();
  await session.shot(admin, 'sign-in');

  // A tenant's token is refused with the API's code and message; nothing is kept.
  await admin.getByLabel('Platform token').fill(tenantToken);
  await admin.getByRole('button', { name: 'Sign in' }).click();
  await admin.locator('[role="alert"]').waitFor();
  result.tenant_token_code = await alertCode(admin);
  result.tenant_token_message = await admin.locator('[role="alert"] p').first().innerText();
  result.kept_after_refusal = await admin.evaluate(() => sessionStorage.length);
  await session.shot(admin, 'sign-in-refused');

  // The admin's token, with the keyboard alone: focus starts in the field; Tab, Enter.
  await admin.getByLabel('Platform token').fill('');
  result.focus_on_sign_in = await admin.evaluate(() => document.activeElement?.name ?? null);
  await admin.getByLabel('Platform token').focus();
  await admin.keyboard.insertText(adminToken);
  await admin.keyboard.press('Tab');
  result.tab_reaches = await admin.evaluate(() => document.activeElement?.textContent?.trim());
  await admin.keyboard.press('Enter');
  await admin.waitForURL((u) => u.pathname === '/platform');
  await loaded(admin);
  result.signed_in_as = await admin.locator('#admin-label').innerText();
  result.all = await listed(admin);
  result.focus_after_navigation = await admin.evaluate(() => document.activeElement?.id ?? null);
  await session.shot(admin, 'tenants');

  // Search for globex.
  await admin.getByLabel('Search').fill('glob');
  await admin.getByLabel('Search').press('Enter');
  await admin.waitForURL((u) => u.searchParams.get('q') === 'glob');
  await loaded(admin);
  result.search = await listed(admin);
  await session.shot(admin, 'search');
  // Filter by status.
  await admin.getByLabel('Search').fill('');
  await admin.getByLabel('Status').selectOption('suspended');
  await admin.getByRole('button', { name: 'Search' }).click();
  await admin.waitForURL((u) => u.searchParams.get('status') === 'suspended');
  await loaded(admin);
  result.suspended_filter = await listed(admin);
  // The page after globex (as a "Next page" link would open it), with a way back.
  await admin.goto(`${origin}/platform?after=globex`);
  await loaded(admin);
  result.after_globex = await listed(admin);
  result.first_page_link = await admin.getByRole('link', { name: 'First page' }).count();
  await admin.getByLabel('Status').selectOption('');
  await admin.getByLabel('Search').fill('globex');
  await admin.getByRole('button', { name: 'Search' }).click();
  await admin.waitForURL((u) => u.searchParams.get('q') === 'globex');
  await loaded(admin);

  // Globex: suspend with a reason; its host refuses.
  await admin.getByRole('link', { name: 'globex', exact: true }).click();
  await admin.waitForURL((u) => u.pathname === '/platform/tenants/globex');
  await loaded(admin);
  result.tenant_heading = await admin.locator('#page-title').innerText();
  await session.shot(admin, 'tenant');
  await admin.getByLabel('Reason for suspending').fill('unpaid invoice 42');
  await submit(admin, 'suspend', 'Suspend tenant', 'globex is suspended');
  result.suspended_notice = await admin.locator('.page .notice').first().innerText();
  result.status_after_suspend = await admin.locator('#tenant-status').innerText();
  await session.shot(admin, 'suspended');
  const probe = await session.person('probe');
  const globexTasks = `http://globex.localhost:${port}/api/tasks`;
  result.globex_while_suspended = await until(probe, globexTasks, (s) => s.code === 'tenant_suspended');

  // Reactivate; the host serves again.
  await submit(admin, 'reactivate', 'Reactivate tenant', 'globex is active again');
  result.status_after_reactivate = await admin.locator('#tenant-status').innerText();
  result.globex_after_reactivate = await until(probe, globexTasks, (s) => s.code !== 'tenant_suspended');

  // Acme: read-only break-glass access with a reason; the grant is listed.
  await admin.getByRole('navigation', { name: 'Platform console' }).getByRole('link', { name: 'Tenants' }).click();
  await loaded(admin);
  await admin.getByRole('link', { name: 'acme', exact: true }).click();
  await admin.waitForURL((u) => u.pathname === '/platform/tenants/acme');
  await loaded(admin);
  // Without a reason: the API's refusal is shown.
  await admin.locator('form#grant').getByRole('button', { name: 'Grant access' }).click();
  await admin.locator('form#grant [role="alert"]').waitFor();
  result.grant_without_reason = await admin.locator('form#grant .error-code').innerText();
  await admin.getByLabel('Reason for access').fill('ticket 7: a customer cannot see their tasks');
  result.write_checked = await admin.getByLabel('Allow writes (read-only unless checked)').isChecked();
  await admin.getByLabel('Minutes').fill('15');
  await submit(admin, 'grant', 'Grant access', 'Break-glass access granted');
  result.grant_rows = await admin
    .locator('tbody tr[data-grant]')
    .evaluateAll((rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim())));
  await session.shot(admin, 'break-glass');

  // Acme's export, downloaded.
  const [download] = await Promise.all([
    admin.waitForEvent('download'),
    admin.locator('form#export').getByRole('button', { name: 'Download export' }).click(),
  ]);
  const saved = join(shots, 'acme-export.ndjson');
  await download.saveAs(saved);
  const lines = readFileSync(saved, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  result.export = {
    filename: download.suggestedFilename(),
    format: lines[0].format,
    slug: lines[0].tenant?.slug,
    end: lines[lines.length - 1],
    files: [...new Set(lines.slice(1, -1).map((l) => l.file))],
  };
  await admin.locator('form#export .notice').waitFor();
  result.export_notice = await admin.locator('form#export .notice').innerText();
  await session.shot(admin, 'export');

  // Globex: a grant revoked from the list (the confirmation step, with the keyboard).
  await admin.goto(`${origin}/platform/tenants/globex`);
  await loaded(admin);
  await admin.getByLabel('Reason for access').fill('checking a billing report');
  await admin.getByLabel('Allow writes (read-only unless checked)').check();
  await admin.getByLabel('Minutes').fill('5');
  await submit(admin, 'grant', 'Grant access', 'Break-glass access granted');
  const grant = admin.locator('tbody tr[data-grant]').first();
  result.globex_grant_access = await grant.locator('td').nth(2).innerText();
  await grant.getByRole('button', { name: 'Revoke' }).click();
  result.confirm_focused = await admin.evaluate(() => document.activeElement?.textContent?.trim());
  await admin.keyboard.press('Enter');
  await admin.locator('.page .notice', { hasText: 'Break-glass access revoked' }).waitFor();
  result.globex_grant_state = await admin.locator('tbody tr[data-grant]').first().locator('td').nth(5).innerText();
  result.revoke_buttons_left = await admin.locator('tbody tr[data-grant]').getByRole('button', { name: 'Revoke' }).count();
  await session.shot(admin, 'revoked');

  // Sleepy: deleting needs its slug typed; then restored.
  await admin.goto(`${origin}/platform/tenants/sleepy`);
  await loaded(admin);
  await admin.getByLabel('Grace period (days)').fill('7');
  await admin.getByLabel('Type the slug to confirm').fill('sleep');
  await admin.locator('form#delete').getByRole('button', { name: 'Delete tenant' }).click();
  await admin.locator('form#delete [role="alert"]').waitFor();
  result.delete_mistyped = await admin.locator('form#delete .error-code').innerText();
  result.status_after_mistyped = await admin.locator('#tenant-status').innerText();
  await session.shot(admin, 'delete-confirm');
  await admin.getByLabel('Reason for deleting').fill('closed account 9');
  await admin.getByLabel('Type the slug to confirm').fill('sleepy');
  await submit(admin, 'delete', 'Delete tenant', 'sleepy is deleted');
  result.status_after_delete = await admin.locator('#tenant-status').innerText();
  await session.shot(admin, 'deleted');
  await admin.getByLabel('Reason for restoring').fill('reopened by request 10');
  await submit(admin, 'restore', 'Restore tenant', 'sleepy is restored');
  result.status_after_restore = await admin.locator('#tenant-status').innerText();

  // Sign out: the token is gone and the console is back at its sign-in page.
  await admin.getByRole('button', { name: 'Sign out' }).click();
  await admin.waitForURL((u) => u.pathname === '/platform/sign-in');
  await loaded(admin);
  result.kept_after_sign_out = await admin.evaluate(() => sessionStorage.length);
  await admin.goto(`${origin}/platform/tenants/acme`);
  await loaded(admin);
  result.after_sign_out_path = new URL(admin.url()).pathname;

  // A token the gateway refuses (expired, forged) is forgotten at the next page load, and the
  // sign-in page says why.
  await admin.evaluate(() => sessionStorage.setItem('tenantgate.platform.token', 'not-a-token'));
  await admin.goto(`${origin}/platform`);
  await loaded(admin);
  await admin.locator('[role="alert"]').waitFor();
  result.bad_token = {
    path: new URL(admin.url()).pathname,
    code: await alertCode(admin),
    kept: await admin.evaluate(() => sessionStorage.length),
  };
  return result;
});
