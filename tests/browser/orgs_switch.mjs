// A person who belongs to two organisations switches from one to the other and back without
// signing in again, then creates a third (a taken address is refused with its code first) and
// lands in it as its owner.
//
//   node orgs_switch.mjs <origin> <screenshot-dir> <user> <password> <other-slug> <new-slug> <new-name>
//
// Prints one JSON line with what the Rust test asserts (tests/gateway/browser_orgs.rs).
import { go, loaded, run, signIn, start } from './orgs_lib.mjs';

const [origin, shots, user, password, otherSlug, newSlug, newName] = process.argv.slice(2);
if (!newName) {
  console.error(
    'usage: node orgs_switch.mjs <origin> <shots> <user> <password> <other-slug> <new-slug> <new-name>',
  );
  process.exit(2);
}
const home = new URL(origin);
const homeSlug = home.hostname.split('.')[0];
/** The host of organisation `slug` beside the home one (acme.localhost:1234 -> globex.localhost:1234). */
const hostOf = (slug) => `${slug}${home.host.slice(homeSlug.length)}`;
const session = await start(shots);

/** Waits until the browser is on organisation `slug`'s pages and they have loaded. */
async function landedOn(page, slug) {
  await page.waitForURL((u) => u.host === hostOf(slug) && u.pathname.startsWith('/admin'));
  await loaded(page);
  return {
    url: page.url(),
    brand: await page.locator('#org-name').innerText(),
    role: await page.locator('.account .role').innerText(),
  };
}

await run(session, async () => {
  const result = {};
  const page = await session.person('switcher');
  await signIn(page, `${origin}/admin`, user, password, { expectHost: home.host });
  result.start = { url: page.url(), brand: await page.locator('#org-name').innerText() };

  // The organisations page lists both.
  await go(page, 'Organisations');
  result.listed = await page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.slug));
  result.current_marked = await page.locator(`tr[data-slug="${homeSlug}"]`).innerText();

  // Switch with the overview's switcher.
  await go(page, 'Overview');
  await page.getByLabel('Switch to').selectOption(otherSlug);
  await page.getByRole('button', { name: 'Switch organisation' }).click();
  result.switched = await landedOn(page, otherSlug);
  await page.goto(new URL('/admin', page.url()).href);
  await loaded(page);
  await session.shot(page, 'switched');

  // And back, from the organisations page.
  await go(page, 'Organisations');
  await page
    .locator(`tr[data-slug="${homeSlug}"]`)
    .getByRole('button', { name: /^Switch/ })
    .click();
  result.back = await landedOn(page, homeSlug);

  // Create an organisation: a taken address first, then a free one.
  await go(page, 'Organisations');
  await page.getByRole('link', { name: 'Create an organisation' }).click();
  await loaded(page);
  await page.getByLabel('Name').fill(newName);
  result.suggested_slug = await page.getByLabel('Address').inputValue();
  await page.getByLabel('Address').fill(otherSlug);
  await page.getByRole('button', { name: 'Create organisation' }).click();
  result.taken_code = await page.locator('[role="alert"] .error-code').innerText();
  await page.getByLabel('Address').fill(newSlug);
  await session.shot(page, 'create-organisation');
  await page.getByRole('button', { name: 'Create organisation' }).click();
  const go_to = page.getByRole('button', { name: `Go to ${newName}` });
  await go_to.waitFor();
  result.created_notice = await page.locator('.notice[role="status"]').innerText();
  await go_to.click();
  result.created = await landedOn(page, newSlug);
  await session.shot(page, 'created-overview');
  return result;
});
