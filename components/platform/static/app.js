// The platform console: a small client-side router over clean paths under /platform.
//
// Boot: without a stored token, the sign-in page (paste a platform token). With one, who am I
// (`GET /api/platform/me`; a refused token is forgotten and the sign-in page shows why), then
// the page for the current path. Links under /platform navigate with history.pushState; after
// each navigation the page heading takes focus.
import { ApiError, clearToken, get, setToken, token } from './api.js';
import { add, busy, errorBox, field, fill, h } from './dom.js';
import { tenants } from './tenants.js';
import { tenant } from './tenant.js';

const SIGN_IN = '/platform/sign-in';

/** Every page: a path pattern, its heading, its renderer. */
const ROUTES = [
  { match: (p) => p === '/platform', title: 'Tenants', render: tenants, nav: '/platform' },
  { match: (p) => p === SIGN_IN, title: 'Sign in', render: signIn, open: true },
  {
    match: (p) => /^\/platform\/tenants\/[a-z0-9-]{1,63}$/.test(p),
    title: 'Tenant',
    render: tenant,
  },
];

const state = { me: null, rendering: 0, signInError: null };

function routeOf(pathname) {
  const path = pathname.replace(/\/+$/, '') || '/platform';
  return ROUTES.find((r) => r.match(path)) ?? null;
}

/** Goes to `href` (a path under /platform, with its query) without reloading. */
function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  render(true);
}

function signOut() {
  clearToken();
  state.me = null;
  navigate(SIGN_IN);
}

function renderChrome() {
  const account = document.getElementById('account');
  const nav = document.getElementById('nav');
  if (!state.me) {
    account.replaceChildren();
    nav.replaceChildren();
    nav.hidden = true;
    return;
  }
  account.replaceChildren(
    h('span', { class: 'who' }, 'Platform admin ', h('span', { class: 'role', id: 'admin-label' }, state.me.admin)),
    h('button', { type: 'button', class: 'secondary', id: 'sign-out', onclick: signOut }, 'Sign out'),
  );
  const here = location.pathname.replace(/\/+$/, '') || '/platform';
  nav.hidden = false;
  nav.replaceChildren(
    h(
      'ul',
      {},
      h('li', {}, h('a', { href: '/platform', 'aria-current': here === '/platform' ? 'page' : null }, 'Tenants')),
    ),
  );
}

/** Renders the page of the current URL; `moveFocus` after a navigation. */
async function render(moveFocus) {
  const ticket = ++state.rendering;
  let route = routeOf(location.pathname);
  if (!state.me && !route?.open) {
    history.replaceState(null, '', SIGN_IN);
    route = routeOf(SIGN_IN);
  }
  const main = document.getElementById('main');
  renderChrome();
  const title = route?.title ?? 'Page not found';
  document.title = `${title} · Platform console`;
  const heading = h('h1', { id: 'page-title', tabindex: '-1' }, title);
  const slot = h('div', { class: 'page', 'aria-busy': 'true' });
  main.replaceChildren(heading, slot);
  if (moveFocus) heading.focus();
  const ctx = {
    me: state.me,
    navigate,
    heading,
    url: new URL(location.href),
    refresh: () => render(false),
    current: () => ticket === state.rendering,
  };
  try {
    if (!route) {
      add(slot, h('p', {}, 'There is no such page. ', h('a', { href: '/platform' }, 'Go to the tenants.')));
    } else {
      await route.render(ctx, slot);
    }
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.code === 'platform_admin_required')) {
      // The token expired or was never a platform admin's: back to the sign-in page.
      clearToken();
      state.me = null;
      state.signInError = err;
      navigate(SIGN_IN, { replace: true });
      return;
    }
    if (ctx.current()) add(slot, errorBox(err));
  } finally {
    slot.removeAttribute('aria-busy');
  }
}

/** The sign-in page: paste a platform token; it is checked with `GET /api/platform/me`. */
async function signIn(ctx, slot) {
  const input = h('textarea', {
    name: 'token',
    rows: '4',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    class: 'wide token',
  });
  const errors = h('div', { class: 'form-errors' });
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'sign-in-title' },
    h('h2', { id: 'sign-in-title' }, 'Your token'),
    field(
      'Platform token',
      input,
      'A bearer token from the platform issuer with the platform_admin role. It is kept in this tab only, until you sign out or close it.',
    ),
    errors,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value) {
      fill(errors, errorBox(new ApiError(400, 'token_required', 'Paste a platform token first.')));
      return;
    }
    await busy(form, async () => {
      setToken(value);
      try {
        state.me = await get('/api/platform/me');
        state.signInError = null;
        navigate('/platform');
      } catch (err) {
        clearToken();
        fill(errors, errorBox(err));
      }
    });
  });
  add(
    slot,
    h('p', {}, 'The platform console lists every tenant and runs their lifecycle, exports and break-glass access.'),
    form,
  );
  if (state.signInError) {
    fill(errors, errorBox(state.signInError));
    state.signInError = null;
  }
  if (ctx.current()) input.focus();
}

/** Same-origin links under /platform (not assets, not downloads) navigate in place. */
function onClick(event) {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest('a[href]');
  if (!link || link.target || link.hasAttribute('download')) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin) return;
  if (!(url.pathname === '/platform' || url.pathname.startsWith('/platform/'))) return;
  if (url.pathname.startsWith('/platform/assets/')) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
}

async function boot() {
  document.addEventListener('click', onClick);
  window.addEventListener('popstate', () => render(true));
  if (token()) {
    try {
      state.me = await get('/api/platform/me');
    } catch (err) {
      clearToken();
      state.signInError = err;
    }
  }
  await render(false);
}

boot();
