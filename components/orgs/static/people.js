// People: members (change role, remove, leave), invitations (create, resend, revoke, list by
// status) and the page an invitation link opens (accept).
import { del, get, loginUrl, patch, post, withQuery } from './api.js';
import { busy, confirmButton, errorBox, field, fill, h, notice, select, table, when, add } from './dom.js';

const enc = encodeURIComponent;

/** The tenant's role names (for role pickers). */
async function roleNames() {
  const names = [];
  let after = null;
  do {
    const page = await get(withQuery('/api/org/roles', { limit: 100, after }));
    names.push(...page.items.map((r) => r.name));
    after = page.next;
  } while (after);
  return names;
}

/** A "Show more" button for a cursor-paged list; `load(cursor)` appends the next page. */
function moreButton(next, load) {
  if (!next) return null;
  const button = h('button', { type: 'button', class: 'secondary', onclick: () => load(next) }, 'Show more');
  return h('p', { class: 'more' }, button);
}

// ---------------------------------------------------------------------------------------------
// Members

export async function members(ctx, slot) {
  const manage = ctx.can('members.manage');
  const [first, roles] = await Promise.all([get('/api/org/members?limit=50'), manage ? roleNames() : []]);
  const status = h('div', { class: 'status-slot' });
  const list = h('div');
  const items = [...first.items];
  let next = first.next;

  function row(m) {
    const self = m.user_id === ctx.me.user.id;
    const name = m.display_name || m.email;
    const actions = [];
    if (manage) {
      const picker = select(roles, m.role, { 'aria-label': `Role for ${name}` });
      const form = h(
        'form',
        { class: 'inline', 'data-member': m.email },
        picker,
        h('button', { type: 'submit' }, 'Change role'),
      );
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        if (picker.value === m.role) return;
        busy(form, async () => {
          try {
            await patch(`/api/org/members/${enc(m.user_id)}`, { role: picker.value });
            await reload(notice(`${name} is now ${picker.value}.`));
          } catch (err) {
            fill(status, errorBox(err));
          }
        });
      });
      actions.push(form);
    }
    if (manage || self) {
      const label = self ? 'Leave organisation' : 'Remove';
      const question = self ? 'Confirm: leave this organisation' : `Confirm: remove ${name}`;
      actions.push(
        confirmButton(label, question, async () => {
          try {
            await del(`/api/org/members/${enc(m.user_id)}`);
            if (self) {
              window.location.assign('/auth/login');
              return;
            }
            await reload(notice(`${name} was removed.`));
          } catch (err) {
            fill(status, errorBox(err));
          }
        }),
      );
    }
    return {
      attrs: { 'data-email': m.email },
      cells: [
        [name, self ? h('span', { class: 'tag' }, 'you') : null],
        m.email,
        h('span', { class: 'role-name' }, m.role),
        when(m.joined_at),
        actions.length ? h('div', { class: 'actions' }, actions) : '—',
      ],
    };
  }

  function draw() {
    fill(
      list,
      table('Members', ['Name', 'Email', 'Role', 'Joined', 'Actions'], items.map(row), {
        empty: 'No members yet.',
      }),
      moreButton(next, async (cursor) => {
        const page = await get(withQuery('/api/org/members', { limit: 50, after: cursor }));
        items.push(...page.items);
        next = page.next;
        draw();
      }),
    );
  }

  async function reload(message) {
    const page = await get('/api/org/members?limit=50');
    items.splice(0, items.length, ...page.items);
    next = page.next;
    draw();
    fill(status, message);
  }

  draw();
  add(
    slot,
    status,
    manage ? h('p', {}, h('a', { href: '/admin/invitations' }, 'Invite people')) : null,
    list,
  );
}

// ---------------------------------------------------------------------------------------------
// Invitations

const STATUSES = ['pending', 'accepted', 'revoked', 'expired'];

/** The accept link of a new or resent invitation, shown once, with a copy button. */
function linkOnce(email, answer, verb) {
  const url = new URL(answer.accept_url, window.location.origin).href;
  const input = h('input', {
    type: 'text',
    readonly: true,
    value: url,
    class: 'wide',
    'data-accept-url': '',
  });
  const copy = h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      onclick: async () => {
        input.select();
        try {
          await navigator.clipboard.writeText(url);
          copy.textContent = 'Copied';
        } catch {
          copy.textContent = 'Select and copy the link';
        }
      },
    },
    'Copy link',
  );
  return notice(
    h('p', {}, `Invitation ${verb} for ${email}. Send them this link; it is shown only once and works once.`),
    field('Accept link', input),
    h('p', {}, copy),
  );
}

export async function invitations(ctx, slot) {
  const manage = ctx.can('members.manage');
  const wanted = ctx.url.searchParams.get('status');
  const filter = STATUSES.includes(wanted) ? wanted : 'pending';
  const [first, roles] = await Promise.all([
    get(withQuery('/api/org/invitations', { status: filter, limit: 50 })),
    manage ? roleNames() : [],
  ]);
  const status = h('div', { class: 'status-slot' });
  const list = h('div');
  const items = [...first.items];
  let next = first.next;

  function row(inv) {
    const actions = [];
    if (manage && inv.status === 'pending') {
      actions.push(
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            onclick: async () => {
              try {
                const answer = await post(`/api/org/invitations/${enc(inv.id)}/resend`);
                await reload(linkOnce(inv.email, answer, 'sent again'));
              } catch (err) {
                fill(status, errorBox(err));
              }
            },
          },
          `Resend`,
          h('span', { class: 'sr-only' }, ` to ${inv.email}`),
        ),
        confirmButton('Revoke', `Confirm: revoke ${inv.email}`, async () => {
          try {
            await post(`/api/org/invitations/${enc(inv.id)}/revoke`);
            await reload(notice(`The invitation for ${inv.email} was revoked.`));
          } catch (err) {
            fill(status, errorBox(err));
          }
        }),
      );
    }
    return {
      attrs: { 'data-email': inv.email },
      cells: [
        inv.email,
        inv.role,
        h('span', { class: `badge ${inv.status}` }, inv.status),
        when(inv.created_at),
        when(inv.expires_at),
        inv.invited_by?.email ?? inv.invited_by?.display_name ?? inv.invited_by ?? '—',
        actions.length ? h('div', { class: 'actions' }, actions) : '—',
      ],
    };
  }

  function draw() {
    fill(
      list,
      table(
        `Invitations: ${filter}`,
        ['Email', 'Role', 'Status', 'Sent', 'Expires', 'Invited by', 'Actions'],
        items.map(row),
        { empty: `No ${filter} invitations.` },
      ),
      moreButton(next, async (cursor) => {
        const page = await get(
          withQuery('/api/org/invitations', { status: filter, limit: 50, after: cursor }),
        );
        items.push(...page.items);
        next = page.next;
        draw();
      }),
    );
  }

  async function reload(message) {
    const page = await get(withQuery('/api/org/invitations', { status: filter, limit: 50 }));
    items.splice(0, items.length, ...page.items);
    next = page.next;
    draw();
    fill(status, message);
  }

  // Create: email, role, expiry.
  let createForm = null;
  if (manage) {
    const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'off' });
    const role = select(roles, roles.includes('member') ? 'member' : roles[0], { name: 'role' });
    const days = h('input', {
      type: 'number',
      name: 'expires_in_days',
      min: '1',
      max: '30',
      value: '7',
      required: true,
    });
    createForm = h(
      'form',
      { class: 'card', 'aria-labelledby': 'invite-title' },
      h('h2', { id: 'invite-title' }, 'Invite someone'),
      h(
        'div',
        { class: 'row' },
        field('Email', email),
        field('Role', role),
        field('Expires after (days)', days, '1 to 30 days.'),
      ),
      h('button', { type: 'submit' }, 'Send invitation'),
    );
    createForm.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(createForm, async () => {
        try {
          const answer = await post('/api/org/invitations', {
            email: email.value.trim(),
            role: role.value,
            expires_in_days: Number(days.value),
          });
          createForm.reset();
          await reload(linkOnce(answer.invitation.email, answer, 'created'));
        } catch (err) {
          fill(status, errorBox(err));
        }
      });
    });
  }

  // Filter by status: links (each a page of its own, so the back button works).
  const filters = h(
    'nav',
    { 'aria-label': 'Invitation status', class: 'tabs' },
    h(
      'ul',
      {},
      STATUSES.map((s) =>
        h(
          'li',
          {},
          h('a', { href: `/admin/invitations?status=${s}`, 'aria-current': s === filter ? 'page' : null }, s),
        ),
      ),
    ),
  );

  draw();
  add(slot, status, createForm, h('h2', {}, 'Invitations'), filters, list);
}

// ---------------------------------------------------------------------------------------------
// Accept

export async function accept(ctx, slot) {
  const token = ctx.url.searchParams.get('token') ?? '';
  if (!token) {
    add(
      slot,
      errorBox({
        code: 'invitation_not_found',
        message: 'This link has no invitation in it. Ask for a new one.',
      }),
    );
    return;
  }
  if (!ctx.me) {
    add(
      slot,
      h(
        'p',
        {},
        'You have been invited to join this organisation. Sign in with the email address the invitation was sent to.',
      ),
      h(
        'p',
        {},
        h(
          'a',
          { class: 'button', id: 'sign-in-to-accept', href: loginUrl('/admin', token) },
          'Sign in to accept',
        ),
      ),
    );
    return;
  }
  const status = h('div', { class: 'status-slot' });
  const button = h('button', { type: 'submit' }, `Accept and join ${ctx.me.tenant.name}`);
  const form = h(
    'form',
    {},
    h(
      'p',
      {},
      `You are signed in as ${ctx.me.user.email}. Accepting adds you to ${ctx.me.tenant.name} with the role the invitation names.`,
    ),
    button,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, async () => {
      try {
        const answer = await post('/api/org/invitations/accept', { token });
        form.remove();
        fill(
          status,
          notice(
            h('p', {}, `You joined ${ctx.me.tenant.name} as ${answer.role}.`),
            h('p', {}, h('a', { href: '/admin', 'data-reload': '' }, 'Go to the overview')),
          ),
        );
        // Drop the token from the address bar: it is single use.
        history.replaceState(null, '', '/admin/accept');
      } catch (err) {
        fill(status, errorBox(err));
      }
    });
  });
  add(slot, status, form);
}
