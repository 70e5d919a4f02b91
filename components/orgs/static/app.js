// The organisation pages: a small client-side router over clean paths under /admin.
//
// Boot: who am I (`GET /api/org/me`; 401 sends the browser to sign in, except on the accept
// page, which offers a sign-in link instead), the CSRF token (`GET /auth/session`), then the
// page for the current path. Links under /admin navigate with history.pushState; after each
// navigation the page heading takes focus. Pages and actions the user's permissions do not
// allow are not shown (the API refuses them anyway).
import { ApiError, get, loadSession, signIn } from './api.js';
import { h, errorBox, add } from './dom.js';
import { accept, invitations, members } from './people.js';
import { domains, roles, sso } from './access.js';
import { audit, usage } from './records.js';
import { createOrganisation, organisations, overview } from './orgs.js';

/** Every page: path, heading, the permission that shows it (none: any signed-in user). */
const ROUTES = [
  { path: '/admin', title: 'Overview', render: overview },
  { path: '/admin/members', title: 'Members', perm: 'members.read', render: members },
  { path: '/admin/invitations', title: 'Invitations', perm: 'members.read', render: invitations },
  { path: '/admin/roles', title: 'Roles and permissions', perm: 'members.read', render: roles },
  { path: '/admin/domains', title: 'Domains', perm: 'domains.manage', render: domains },
  { path: '/admin/sso', title: 'Single sign-on', perm: 'sso.manage', render: sso },
  { path: '/admin/usage', title: 'Usage', perm: 'usage.read', render: usage },
  { path: '/admin/audit', title: 'Audit log', perm: 'audit.read', render: audit },
  { path: '/admin/organisations', title: 'Organisations', render: organisations },
  {
    path: '/admin/organisations/new',
    title: 'Create an organisation',
    render: createOrganisation,
    hidden: true,
  },
  { path: '/admin/accept', title: 'Accept invitation', render: accept, hidden: true, open: true },
];

const state = { me: null, session: null, rendering: 0 };

function can(permission) {
  return Boolean(state.me?.permissions?.includes(permission));
}

function routeOf(pathname) {
  const path = pathname.replace(/\/+$/, '') || '/admin';
  return ROUTES.find((r) => r.path === path) ?? null;
}

/** Goes to `href` (a path under /admin, with its query) without reloading. */
function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  render(true);
}

function renderChrome() {
  const me = state.me;
  const brand = document.getElementById('org-name');
  const account = document.getElementById('account');
  const nav = document.getElementById('nav');
  if (!me) {
    brand.textContent = 'Organisation';
    account.replaceChildren();
    nav.replaceChildren();
    nav.hidden = true;
    return;
  }
  brand.textContent = me.tenant.name;
  account.replaceChildren(
    h(
      'span',
      { class: 'who' },
      me.user.display_name || me.user.email,
      ' · ',
      h('span', { class: 'role' }, me.role),
    ),
    h(
      'form',
      { method: 'post', action: '/auth/logout', class: 'inline' },
      h('button', { type: 'submit', class: 'secondary' }, 'Sign out'),
    ),
  );
  const here = routeOf(location.pathname);
  nav.hidden = false;
  nav.replaceChildren(
    h(
      'ul',
      {},
      ROUTES.filter((r) => !r.hidden && (!r.perm || can(r.perm))).map((r) =>
        h('li', {}, h('a', { href: r.path, 'aria-current': here === r ? 'page' : null }, r.title)),
      ),
    ),
  );
}

/** Renders the page of the current URL; `moveFocus` after a navigation. */
async function render(moveFocus) {
  const ticket = ++state.rendering;
  const route = routeOf(location.pathname);
  const main = document.getElementById('main');
  renderChrome();
  const title = route?.title ?? 'Page not found';
  document.title = state.me ? `${title} · ${state.me.tenant.name}` : title;
  const heading = h('h1', { id: 'page-title', tabindex: '-1' }, title);
  const slot = h('div', { class: 'page', 'aria-busy': 'true' });
  main.replaceChildren(heading, slot);
  if (moveFocus) heading.focus();
  const ctx = {
    me: state.me,
    session: state.session,
    can,
    navigate,
    heading,
    url: new URL(location.href),
    refresh: () => render(false),
    /** True while this page is still the one shown (a slow answer must not draw over another page). */
    current: () => ticket === state.rendering,
  };
  try {
    if (!route) {
      add(slot, h('p', {}, 'There is no such page. ', h('a', { href: '/admin' }, 'Go to the overview.')));
    } else if (!state.me && !route.open) {
      signIn();
    } else if (route.perm && !can(route.perm)) {
      add(
        slot,
        errorBox(
          new ApiError(
            403,
            'forbidden',
            `This page needs the ${route.perm} permission, which your role does not have.`,
          ),
        ),
      );
    } else {
      await route.render(ctx, slot);
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && !route?.open) {
      signIn();
      return;
    }
    if (ctx.current()) add(slot, errorBox(err));
  } finally {
    slot.removeAttribute('aria-busy');
  }
}

/** Same-origin links under /admin (not assets, not new tabs) navigate in place. */
function onClick(event) {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest('a[href]');
  if (!link || link.target || link.hasAttribute('download') || link.hasAttribute('data-reload')) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin) return;
  if (!(url.pathname === '/admin' || url.pathname.startsWith('/admin/'))) return;
  if (url.pathname.startsWith('/admin/assets/')) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
}

async function boot() {
  document.addEventListener('click', onClick);
  window.addEventListener('popstate', () => render(true));
  const route = routeOf(location.pathname);
  try {
    state.me = await get('/api/org/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      if (!route?.open) {
        signIn();
        return;
      }
    } else {
      document
        .getElementById('main')
        .replaceChildren(h('h1', { tabindex: '-1' }, 'Organisation'), errorBox(err));
      return;
    }
  }
  if (state.me) state.session = await loadSession();
  await render(false);
}

boot();
