// The tenant's home page (`/` on its host): what an anonymous visitor, the owner and a member
// who may only read see; the owner adds a task from the keyboard.
//
//   node home.mjs <origin> <screenshot-dir> <owner> <owner-password> <reader> <reader-password> <new-title>
//
// Prints one JSON line with what the Rust test asserts (tests/gateway/browser_home.rs).
import { apiFromPage, run, signIn, start } from './orgs_lib.mjs';

const [origin, shots, owner, ownerPw, reader, readerPw, newTitle] = process.argv.slice(2);
if (!newTitle) {
  console.error('usage: node home.mjs <origin> <shots> <owner> <pw> <reader> <pw> <new-title>');
  process.exit(2);
}
const session = await start(shots);

/** The titles listed on the page once it has loaded its tasks. */
async function titles(page) {
  await page.locator('#tasks, #no-tasks').first().waitFor();
  return page.locator('#tasks .task-title').allInnerTexts();
}

await run(session, async () => {
  const result = {};

  // Anonymous (this app grants anonymous requests nothing): the refusal, and the way in.
  const visitor = await session.person('visitor');
  await visitor.goto(`${origin}/`);
  await visitor.locator('.notice.error').waitFor();
  result.anonymous_code = await visitor.locator('.error-code').innerText();
  result.anonymous_sign_in = await visitor
    .getByRole('link', { name: "Sign in to see this organisation's tasks." })
    .getAttribute('href');
  result.anonymous_forms = await visitor.locator('form#add-task, form#add-project').count();
  await session.shot(visitor, 'home-anonymous');

  // The owner signs in through the tenant's login and lands back on the home page.
  const page = await session.person('owner');
  await signIn(page, `${origin}/auth/login?return_to=%2F`, owner, ownerPw, { expectPath: '/' });
  result.owner_url = page.url();
  result.owner_titles = await titles(page);
  result.brand = await page.locator('#org-name').innerText();
  result.settings_link = await page
    .getByRole('link', { name: 'Organisation settings' })
    .getAttribute('href');
  await session.shot(page, 'home-owner');

  // Adds a task with the keyboard alone: type the title, Enter submits the form.
  await page.getByLabel('Title').focus();
  await page.keyboard.type(newTitle);
  await page.keyboard.press('Enter');
  await page.locator('.notice.ok').waitFor();
  result.added_notice = await page.locator('.notice.ok').innerText();
  result.focused_notice = await page.evaluate(() =>
    document.activeElement?.classList.contains('notice'),
  );
  result.owner_titles_after = await titles(page);
  await session.shot(page, 'home-added');

  // A member whose role may only read: the tasks, no form; the API refuses a write.
  const readerPage = await session.person('reader');
  await signIn(readerPage, `${origin}/auth/login?return_to=%2F`, reader, readerPw, {
    expectPath: '/',
  });
  result.reader_titles = await titles(readerPage);
  result.reader_forms = await readerPage.locator('form#add-task, form#add-project').count();
  result.reader_write = await apiFromPage(readerPage, 'POST', '/api/tasks', {
    project_id: 'a1000000-0000-4000-8000-000000000001',
    title: 'not allowed',
  });
  await session.shot(readerPage, 'home-reader');
  return result;
});
