// An owner uses the remaining pages' actions: creates, edits and deletes a custom role; adds
// a domain (and is shown the TXT record to create) and removes it; changes the SSO sign-in
// rules; resends and revokes an invitation. Every action goes through the page's own forms
// and buttons.
//
//   node orgs_settings.mjs <origin> <screenshot-dir> <owner> <owner-pw>
//
// Prints one JSON line with what the Rust test asserts (tests/gateway/browser_orgs.rs).
import { go, loaded, open, run, signIn, start } from './orgs_lib.mjs';

const [origin, shots, owner, ownerPw] = process.argv.slice(2);
if (!ownerPw) {
  console.error('usage: node orgs_settings.mjs <origin> <screenshot-dir> <owner> <owner-pw>');
  process.exit(2);
}
const session = await start(shots);

await run(session, async () => {
  const result = {};
  const page = await session.person('settings');
  await signIn(page, `${origin}/admin`, owner, ownerPw, { expectHost: new URL(origin).host });

  // Roles: create, edit, delete.
  await go(page, 'Roles and permissions');
  const create = page.locator('form[aria-labelledby="create-role-title"]');
  await create.getByLabel('Name').fill('auditor');
  await create.getByLabel('Description').fill('Reads the audit log');
  await create.getByRole('checkbox', { name: /audit\.read/ }).check();
  await create.getByRole('checkbox', { name: /usage\.read/ }).check();
  await create.getByRole('button', { name: 'Create role' }).click();
  const row = page.locator('tr[data-role="auditor"]');
  await row.waitFor();
  result.role_created = await row.innerText();
  await row.getByRole('button', { name: /^Edit/ }).click();
  const edit = page.locator('form[aria-labelledby="edit-title"]');
  await edit.getByRole('checkbox', { name: /members\.read/ }).check();
  await edit.getByRole('button', { name: 'Save role' }).click();
  await page.locator('tr[data-role="auditor"]', { hasText: 'members.read' }).waitFor();
  result.role_edited = await page.locator('tr[data-role="auditor"]').innerText();
  await session.shot(page, 'roles-custom');
  await page.locator('tr[data-role="auditor"]').getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('button', { name: 'Confirm: delete auditor' }).click();
  await page.locator('tr[data-role="auditor"]').waitFor({ state: 'detached' });
  result.system_roles_have_no_actions = await page
    .locator('tr[data-role="owner"]')
    .getByRole('button')
    .count();

  // Domains: add (the TXT record is shown), then remove.
  await go(page, 'Domains');
  await page.getByLabel('Domain', { exact: true }).fill('Portal2.Acme.test');
  await page.getByRole('button', { name: 'Add domain' }).click();
  const added = page.locator('.notice[role="status"]');
  await added.waitFor();
  result.txt_name = await added.locator('[data-txt-name]').innerText();
  result.txt_value = await added.locator('[data-txt-value]').innerText();
  await session.shot(page, 'domain-added');
  await open(page, '/admin/domains');
  const domainRow = page.locator('tr[data-domain="portal2.acme.test"]');
  result.domain_row = await domainRow.innerText();
  await domainRow.getByRole('button', { name: 'Remove' }).click();
  await page.getByRole('button', { name: 'Confirm: remove portal2.acme.test' }).click();
  await page
    .locator('tr[data-domain="portal2.acme.test"]', { hasText: 'revoked' })
    .or(page.locator('p.empty'))
    .first()
    .waitFor();
  result.domain_after_removal = (await page.locator('tr[data-domain="portal2.acme.test"]').count())
    ? await page.locator('tr[data-domain="portal2.acme.test"]').innerText()
    : null;

  // SSO: just-in-time membership off, new members as admin; the page shows it after a reload.
  await go(page, 'Single sign-on');
  await page.getByRole('checkbox', { name: /Just-in-time/ }).uncheck();
  await page.getByLabel('Role for new members').selectOption('admin');
  await page.getByRole('button', { name: 'Save settings' }).click();
  result.sso_saved = await page.locator('.notice[role="status"]').innerText();
  await open(page, '/admin/sso');
  result.sso_jit_after_reload = await page.getByRole('checkbox', { name: /Just-in-time/ }).isChecked();
  result.sso_role_after_reload = await page.getByLabel('Role for new members').inputValue();

  // Invitations: create, resend (a new link), revoke; the revoked list shows it.
  await go(page, 'Invitations');
  await page.getByLabel('Email').fill('pat@partner.test');
  await page.getByRole('button', { name: 'Send invitation' }).click();
  const first = await page.locator('[data-accept-url]').inputValue();
  const inv = page.locator('tr[data-email="pat@partner.test"]');
  await inv.getByRole('button', { name: /^Resend/ }).click();
  await page.locator('.notice[role="status"]', { hasText: 'sent again' }).waitFor();
  const second = await page.locator('[data-accept-url]').inputValue();
  result.resend_gives_a_new_link = first !== second && second.includes('/admin/accept?token=');
  result.first_link = first;
  await page.locator('tr[data-email="pat@partner.test"]').getByRole('button', { name: 'Revoke' }).click();
  await page.getByRole('button', { name: 'Confirm: revoke pat@partner.test' }).click();
  await page.locator('tr[data-email="pat@partner.test"]').waitFor({ state: 'detached' });
  await page.getByRole('link', { name: 'revoked' }).click();
  await page.waitForURL((u) => u.searchParams.get('status') === 'revoked');
  await loaded(page);
  result.revoked_row = await page.locator('tr[data-email="pat@partner.test"]').innerText();
  await session.shot(page, 'invitations-revoked');

  // The first (replaced) link no longer works for anyone: the accept page says so.
  await page.goto(first);
  await loaded(page);
  await page.getByRole('button', { name: /^Accept and join/ }).click();
  result.old_link_code = await page.locator('[role="alert"] .error-code').innerText();
  await session.shot(page, 'accept-refused');
  return result;
});
