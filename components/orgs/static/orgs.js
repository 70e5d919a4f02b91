// Organisations: the overview (this organisation, my role, the switcher), my organisations,
// and creating one. Switching is the gateway's: a form POST /auth/switch with to=<slug>, which
// answers with a redirect to the other organisation's host (its login page when it enforces SSO);
// return_to asks to land on /admin there.
import { errorBox, field, fill, h, select, table, add } from './dom.js';
import { get, post, withQuery } from './api.js';

/** How each organisation signs people in (the tenant's `sso` mode). */
const SSO_MODES = { none: 'Not set up', sso: 'Available', enforced: 'Required' };

const SLUG = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

async function myOrganisations() {
  const items = [];
  let after = null;
  do {
    const page = await get(withQuery('/api/org/organisations', { limit: 100, after }));
    items.push(...page.items);
    after = page.next;
  } while (after);
  return items;
}

/** A form that moves the browser to organisation `slug` (the gateway's switch). */
function switchForm(slug, label, { action = '/auth/switch', extra = null } = {}) {
  return h(
    'form',
    { method: 'post', action, class: 'inline', 'data-switch': slug },
    h('input', { type: 'hidden', name: 'to', value: slug }),
    h('input', { type: 'hidden', name: 'return_to', value: '/admin' }),
    extra,
    h('button', { type: 'submit' }, label),
  );
}

/** The switcher: a labelled list of the other organisations and one button. */
function switcher(orgs) {
  const others = orgs.filter((o) => !o.current && o.status === 'active');
  if (others.length === 0) {
    return h('p', { class: 'muted' }, 'You belong to no other organisation.');
  }
  const choice = select(
    others.map((o) => [o.slug, `${o.name} (${o.slug})`]),
    others[0].slug,
    { name: 'to' },
  );
  return h(
    'form',
    { method: 'post', action: '/auth/switch', class: 'inline switcher', id: 'switcher' },
    field('Switch to', choice),
    h('input', { type: 'hidden', name: 'return_to', value: '/admin' }),
    h('button', { type: 'submit' }, 'Switch organisation'),
  );
}

export async function overview(ctx, slot) {
  const me = ctx.me;
  const orgs = await myOrganisations().catch((err) => err);
  const links = [
    ['/admin/members', 'Members', 'members.read', 'Who belongs here, and their roles.'],
    ['/admin/invitations', 'Invitations', 'members.read', 'Invite people by email.'],
    ['/admin/roles', 'Roles and permissions', 'members.read', 'System and custom roles.'],
    ['/admin/domains', 'Domains', 'domains.manage', 'Custom domains and their verification.'],
    ['/admin/sso', 'Single sign-on', 'sso.manage', 'Your identity provider and sign-in rules.'],
    ['/admin/usage', 'Usage', 'usage.read', 'Requests against your plan.'],
    ['/admin/audit', 'Audit log', 'audit.read', 'Every change, who made it and when.'],
  ].filter(([, , perm]) => ctx.can(perm));
  add(
    slot,
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'this-org' },
      h('h2', { id: 'this-org' }, me.tenant.name),
      h(
        'dl',
        { class: 'pairs' },
        h('dt', {}, 'Address'),
        h('dd', {}, h('code', {}, me.tenant.slug)),
        h('dt', {}, 'Plan'),
        h('dd', {}, me.tenant.plan ?? '—'),
        h('dt', {}, 'Status'),
        h('dd', {}, me.tenant.status ?? '—'),
        h('dt', {}, 'Signed in as'),
        h('dd', { id: 'me-email' }, me.user.email),
        h('dt', {}, 'Your role'),
        h('dd', { id: 'me-role' }, me.role),
      ),
    ),
    h(
      'section',
      { 'aria-labelledby': 'switch-title' },
      h('h2', { id: 'switch-title' }, 'Your organisations'),
      orgs instanceof Error ? errorBox(orgs) : switcher(orgs),
      h(
        'p',
        {},
        h('a', { href: '/admin/organisations' }, 'All your organisations'),
        ' · ',
        h('a', { href: '/admin/organisations/new' }, 'Create an organisation'),
      ),
    ),
    links.length
      ? h(
          'section',
          { 'aria-labelledby': 'manage-title' },
          h('h2', { id: 'manage-title' }, 'Manage'),
          h(
            'ul',
            { class: 'tiles' },
            links.map(([href, title, , text]) =>
              h('li', {}, h('a', { href }, title), h('p', { class: 'muted' }, text)),
            ),
          ),
        )
      : null,
  );
}

export async function organisations(ctx, slot) {
  const orgs = await myOrganisations();
  add(
    slot,
    h('p', {}, h('a', { href: '/admin/organisations/new', class: 'button' }, 'Create an organisation')),
    table(
      'Your organisations',
      ['Name', 'Address', 'Your role', 'Status', 'Single sign-on', ''],
      orgs.map((o) => ({
        attrs: { 'data-slug': o.slug },
        cells: [
          h('strong', {}, o.name),
          h('code', {}, o.slug),
          o.role,
          o.status,
          SSO_MODES[o.sso] ?? o.sso ?? '—',
          o.current
            ? h('span', { class: 'tag' }, 'current')
            : o.status === 'active'
              ? switchForm(o.slug, [`Switch`, h('span', { class: 'sr-only' }, ` to ${o.name}`)])
              : '—',
        ],
      })),
      { empty: 'You belong to no organisation.' },
    ),
  );
}

export async function createOrganisation(ctx, slot) {
  const status = h('div', { class: 'status-slot' });
  const name = h('input', {
    type: 'text',
    name: 'name',
    required: true,
    maxlength: '200',
    autocomplete: 'organization',
  });
  const slug = h('input', {
    type: 'text',
    name: 'slug',
    required: true,
    minlength: '3',
    maxlength: '63',
    pattern: '[a-z0-9]([a-z0-9\\-]{0,61}[a-z0-9])?',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  let slugEdited = false;
  slug.addEventListener('input', () => {
    slugEdited = true;
  });
  name.addEventListener('input', () => {
    if (slugEdited) return;
    slug.value = name.value
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63);
  });
  const form = h(
    'form',
    { class: 'card' },
    field('Name', name, 'Shown to members, 1 to 200 characters.'),
    field(
      'Address',
      slug,
      `3 to 63 lower-case letters, digits and hyphens; becomes <address>.${apexOf(ctx)}.`,
    ),
    h('button', { type: 'submit' }, 'Create organisation'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = slug.value.trim();
    if (!SLUG.test(value) || value.length < 3) {
      fill(
        status,
        errorBox({
          code: 'slug_invalid',
          message:
            'The address must be 3 to 63 lower-case letters, digits and hyphens, not starting or ending with a hyphen.',
        }),
      );
      slug.focus();
      return;
    }
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const created = await post('/api/org/organisations', { slug: value, name: name.value.trim() });
      form.remove();
      fill(
        status,
        h(
          'div',
          { class: 'notice ok', role: 'status', tabindex: '-1' },
          h('p', {}, `${created.name} is ready and you are its owner.`),
          switchForm(created.slug, `Go to ${created.name}`, { action: created.url_path || '/auth/switch' }),
        ),
      );
    } catch (err) {
      fill(status, errorBox(err));
    } finally {
      button.disabled = false;
    }
  });
  add(slot, status, form);
}

/** The apex host (this host without the organisation's own label), for the address hint. */
function apexOf(ctx) {
  const host = window.location.host;
  const prefix = `${ctx.me.tenant.slug}.`;
  return host.startsWith(prefix) ? host.slice(prefix.length) : host;
}
