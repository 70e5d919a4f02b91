// A tenant's owner signs in (the tenant's login page, the OIDC IdP) and opens the audit log of
// /admin: the platform admin's break-glass grant and every access made with it are there.
//
//   node platform_owner_audit.mjs <tenant-origin> <screenshot-dir> <user> <password>
//
// Prints one JSON line with what the Rust test asserts (tests/gateway/browser_platform.rs).
import { go, run, signIn, start } from './orgs_lib.mjs';

const [origin, shots, user, password] = process.argv.slice(2);
if (!password) {
  console.error('usage: node platform_owner_audit.mjs <tenant-origin> <shots> <user> <password>');
  process.exit(2);
}
const session = await start(shots);

await run(session, async () => {
  const owner = await session.person('owner');
  await signIn(owner, `${origin}/admin`, user, password, { expectHost: new URL(origin).host });
  await go(owner, 'Audit log');
  const rows = await owner.locator('tbody tr').evaluateAll((trs) =>
    trs.map((r) => ({ action: r.dataset.action, text: r.textContent.replace(/\s+/g, ' ').trim() })),
  );
  await session.shot(owner, 'owner-audit');
  return { actions: rows.map((r) => r.action), rows };
});
