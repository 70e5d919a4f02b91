// An owner invites a newcomer, who accepts in a second browser context; the newcomer (a member
// without members.manage) sees no admin actions and gets 403 from the API; the owner promotes
// them with the keyboard alone and they see admin actions within seconds; the audit page shows
// the invitation and the role change. Every page of the owner's navigation is photographed.
//
//   node orgs_invite.mjs <origin> <screenshot-dir> <owner> <owner-pw> <newcomer> <newcomer-pw> <newcomer-email>
//
// Prints one JSON line with what the Rust test asserts (tests/gateway/browser_orgs.rs).
import { apiFromPage, buttonNames, go, loaded, open, run, signIn, start } from './orgs_lib.mjs';

const [origin, shots, owner, ownerPw, newcomer, newcomerPw, newcomerEmail] = process.argv.slice(2);
if (!newcomerEmail) {
  console.error(
    'usage: node orgs_invite.mjs <origin> <shots> <owner> <owner-pw> <newcomer> <newcomer-pw> <email>',
  );
  process.exit(2);
}
const host = new URL(origin).host;
const session = await start(shots);

/** Presses Tab until the focused element matches `selector` (keyboard-only use). */
async function tabTo(page, selector, max = 60) {
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** The focused element's outline, to check that focus is visible. */
const focusOutline = (page) =>
  page.evaluate(() => {
    const s = getComputedStyle(document.activeElement);
    return `${s.outlineStyle} ${s.outlineWidth}`;
  });

await run(session, async () => {
  const result = {};

  // The owner signs in and lands on the overview.
  const boss = await session.person('owner');
  await signIn(boss, `${origin}/admin`, owner, ownerPw, { expectHost: host });
  result.owner_heading = await boss.locator('#page-title').innerText();
  result.owner_role = await boss.locator('#me-role').innerText();
  await session.shot(boss, 'overview');

  // Invite: the accept link is shown once.
  await go(boss, 'Invitations');
  result.focus_after_navigation = await boss.evaluate(() => document.activeElement?.id ?? null);
  await boss.getByLabel('Email').fill(newcomerEmail);
  await boss.getByLabel('Role', { exact: true }).selectOption('member');
  await boss.getByRole('button', { name: 'Send invitation' }).click();
  const acceptUrl = await boss.locator('[data-accept-url]').inputValue();
  result.accept_url = acceptUrl;
  result.pending = await boss.locator(`tr[data-email="${newcomerEmail}"]`).innerText();
  await session.shot(boss, 'invitations');
  // A second invitation for the same email is refused with its code, shown on the page.
  await boss.getByLabel('Email').fill(newcomerEmail);
  await boss.getByRole('button', { name: 'Send invitation' }).click();
  result.duplicate_invitation_code = await boss.locator('[role="alert"] .error-code').innerText();

  // The newcomer opens the link in another browser (not signed in there): "Sign in to accept".
  const guest = await session.person('newcomer');
  await guest.goto(acceptUrl);
  await loaded(guest);
  await session.shot(guest, 'accept');
  const signInHref = await guest.locator('#sign-in-to-accept').getAttribute('href');
  result.sign_in_href = signInHref;
  await signIn(guest, new URL(signInHref, origin).href, newcomer, newcomerPw, { expectHost: host });
  await open(guest, '/admin');
  result.newcomer_role = await guest.locator('#me-role').innerText();
  result.newcomer_email = await guest.locator('#me-email').innerText();

  // As a member: no admin actions, and the API refuses them.
  result.member_nav = await guest
    .getByRole('navigation', { name: 'Organisation settings' })
    .getByRole('link')
    .allInnerTexts();
  await go(guest, 'Members');
  result.member_buttons_on_members = await buttonNames(guest.locator('main'));
  await session.shot(guest, 'member-members');
  await go(guest, 'Invitations');
  result.member_buttons_on_invitations = await buttonNames(guest.locator('main'));
  result.member_api_invite = await apiFromPage(guest, 'POST', '/api/org/invitations', {
    email: 'someone@partner.test',
    role: 'member',
  });
  result.member_api_audit = await apiFromPage(guest, 'GET', '/api/org/audit');
  // The page a member may not open says why instead of showing it.
  await open(guest, '/admin/audit');
  result.member_audit_page_code = await guest.locator('[role="alert"] .error-code').innerText();

  // The owner promotes the newcomer to admin with the keyboard alone.
  await go(boss, 'Members');
  const row = `tr[data-email="${newcomerEmail}"]`;
  await boss.locator('#page-title').focus();
  await tabTo(boss, `${row} select`);
  result.focus_outline = await focusOutline(boss);
  await boss.keyboard.type('admin');
  await tabTo(boss, `${row} form button[type="submit"]`);
  await boss.keyboard.press('Enter');
  result.role_changed_notice = await boss.locator('.notice[role="status"]').innerText();
  result.member_row = await boss.locator(row).innerText();
  await session.shot(boss, 'members');

  // Within seconds the newcomer's pages show admin actions.
  const until = Date.now() + 10_000;
  let buttons = [];
  while (Date.now() < until) {
    await open(guest, '/admin/members');
    buttons = await buttonNames(guest.locator('main'));
    if (buttons.includes('Change role')) break;
    await guest.waitForTimeout(500);
  }
  result.promoted_buttons_on_members = buttons;

  // The audit log shows the invitation, its acceptance and the role change.
  await go(boss, 'Audit log');
  result.audit_actions = await boss
    .locator('tbody tr')
    .evaluateAll((rows) => rows.map((r) => r.dataset.action));
  await session.shot(boss, 'audit');
  await boss.getByLabel('Action').selectOption('member.role_changed');
  await boss.getByRole('button', { name: 'Apply filters' }).click();
  await boss.waitForURL((u) => u.searchParams.get('action') === 'member.role_changed');
  await loaded(boss);
  result.filtered_actions = await boss
    .locator('tbody tr')
    .evaluateAll((rows) => rows.map((r) => r.dataset.action));
  // What changed, one line per field.
  result.role_change_summary = await boss.locator('tbody tr [data-changes] .diff').first().innerText();
  await session.shot(boss, 'audit-filtered');

  // Every other page, photographed, with its heading.
  result.headings = {};
  for (const [link, shot] of [
    ['Roles and permissions', 'roles'],
    ['Domains', 'domains'],
    ['Single sign-on', 'sso'],
    ['Usage', 'usage'],
    ['Organisations', 'organisations'],
  ]) {
    await go(boss, link);
    result.headings[shot] = await boss.locator('#page-title').innerText();
    result[`${shot}_alerts`] = await boss.locator('[role="alert"]').allInnerTexts();
    await session.shot(boss, shot);
  }
  return result;
});
