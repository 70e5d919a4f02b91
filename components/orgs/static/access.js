// Access: roles and permissions (custom roles from the catalogue), domains (add with the TXT
// record to create, remove) and single sign-on settings (the provider, the values for the
// customer's IdP admin, enforced / just-in-time / default role / allowed email domains).
import { del, get, patch, post, withQuery } from './api.js';
import {
  busy,
  checkbox,
  confirmButton,
  errorBox,
  field,
  fill,
  h,
  notice,
  select,
  table,
  uid,
  when,
  add,
} from './dom.js';

const enc = encodeURIComponent;

async function all(path) {
  const items = [];
  let after = null;
  do {
    const page = await get(withQuery(path, { limit: 100, after }));
    items.push(...page.items);
    after = page.next;
  } while (after);
  return items;
}

// ---------------------------------------------------------------------------------------------
// Roles and permissions

/** Checkboxes for the catalogue; permissions the caller does not hold cannot be granted. */
function permissionBoxes(catalogue, held, chosen) {
  const legend = uid('legend');
  return h(
    'fieldset',
    { class: 'perms', 'aria-describedby': legend },
    h('legend', {}, 'Permissions'),
    h('p', { class: 'hint', id: legend }, 'You can grant only permissions you hold yourself.'),
    catalogue.map((p) =>
      checkbox(
        [
          h('code', {}, p.permission),
          ` — ${p.description}`,
          held.has(p.permission) ? null : ' (you do not hold this)',
        ],
        {
          name: 'permission',
          value: p.permission,
          checked: chosen.has(p.permission),
          disabled: !held.has(p.permission),
        },
      ),
    ),
  );
}

function checked(form) {
  return [...form.querySelectorAll('input[name="permission"]:checked')].map((i) => i.value);
}

export async function roles(ctx, slot) {
  const manage = ctx.can('roles.manage');
  const [list, catalogue] = await Promise.all([all('/api/org/roles'), all('/api/org/permissions')]);
  const held = new Set(ctx.me.permissions);
  const status = h('div', { class: 'status-slot' });
  const editor = h('div');

  function edit(role) {
    const description = h('input', { type: 'text', value: role.description ?? '', maxlength: '200' });
    const form = h(
      'form',
      { class: 'card', 'aria-labelledby': 'edit-title' },
      h('h2', { id: 'edit-title' }, `Edit role ${role.name}`),
      field('Description', description),
      permissionBoxes(catalogue, held, new Set(role.permissions)),
      h(
        'div',
        { class: 'buttons' },
        h('button', { type: 'submit' }, 'Save role'),
        h('button', { type: 'button', class: 'secondary', onclick: () => fill(editor) }, 'Cancel'),
      ),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(form, async () => {
        try {
          await patch(`/api/org/roles/${enc(role.name)}`, {
            description: description.value,
            permissions: checked(form),
          });
          await ctx.refresh();
        } catch (err) {
          fill(status, errorBox(err));
        }
      });
    });
    fill(editor, form);
    form.querySelector('h2').setAttribute('tabindex', '-1');
    form.querySelector('h2').focus();
  }

  const rows = list.map((role) => ({
    attrs: { 'data-role': role.name },
    cells: [
      h('strong', {}, role.name),
      role.built_in ? h('span', { class: 'tag' }, 'system') : 'custom',
      role.description || '—',
      h(
        'ul',
        { class: 'plain' },
        role.permissions.map((p) => h('li', {}, h('code', {}, p))),
      ),
      String(role.members),
      manage && !role.built_in
        ? h(
            'div',
            { class: 'actions' },
            h(
              'button',
              { type: 'button', class: 'secondary', onclick: () => edit(role) },
              'Edit',
              h('span', { class: 'sr-only' }, ` ${role.name}`),
            ),
            confirmButton('Delete', `Confirm: delete ${role.name}`, async () => {
              try {
                await del(`/api/org/roles/${enc(role.name)}`);
                await ctx.refresh();
              } catch (err) {
                fill(status, errorBox(err));
              }
            }),
          )
        : '—',
    ],
  }));

  let create = null;
  if (manage) {
    const name = h('input', {
      type: 'text',
      required: true,
      pattern: '[a-z][a-z0-9_\\-]{0,62}',
      autocomplete: 'off',
    });
    const description = h('input', { type: 'text', maxlength: '200' });
    create = h(
      'form',
      { class: 'card', 'aria-labelledby': 'create-role-title' },
      h('h2', { id: 'create-role-title' }, 'Create a role'),
      h(
        'div',
        { class: 'row' },
        field('Name', name, 'Lower-case letters, digits, - and _; starts with a letter.'),
        field('Description', description),
      ),
      permissionBoxes(catalogue, held, new Set()),
      h('button', { type: 'submit' }, 'Create role'),
    );
    create.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(create, async () => {
        try {
          await post('/api/org/roles', {
            name: name.value.trim(),
            description: description.value,
            permissions: checked(create),
          });
          await ctx.refresh();
        } catch (err) {
          fill(status, errorBox(err));
        }
      });
    });
  }

  add(
    slot,
    status,
    h(
      'p',
      {},
      'System roles (owner, admin, member) come with every organisation and cannot be changed. Changes to roles take effect within a few seconds.',
    ),
    table('Roles', ['Role', 'Kind', 'Description', 'Permissions', 'Members', 'Actions'], rows),
    editor,
    create,
    h('h2', {}, 'Permission catalogue'),
    table(
      'Permissions the components declare',
      ['Permission', 'Component', 'Description'],
      catalogue.map((p) => [h('code', {}, p.permission), p.component, p.description]),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Domains

function txtRecord(d) {
  return h(
    'dl',
    { class: 'record' },
    h('dt', {}, 'Type'),
    h('dd', {}, 'TXT'),
    h('dt', {}, 'Name'),
    h('dd', {}, h('code', { 'data-txt-name': '' }, d.txt_name)),
    h('dt', {}, 'Value'),
    h('dd', {}, h('code', { 'data-txt-value': '' }, d.txt_value)),
  );
}

export async function domains(ctx, slot) {
  const list = await all('/api/org/domains');
  const status = h('div', { class: 'status-slot' });
  const rows = list.map((d) => ({
    attrs: { 'data-domain': d.domain },
    cells: [
      h('strong', {}, d.domain),
      h('span', { class: `badge ${d.status}` }, d.status),
      d.status === 'pending' ? txtRecord(d) : '—',
      when(d.created_at),
      when(d.verified_at),
      d.status === 'revoked'
        ? '—'
        : confirmButton('Remove', `Confirm: remove ${d.domain}`, async () => {
            try {
              await del(`/api/org/domains/${enc(d.domain)}`);
              await ctx.refresh();
            } catch (err) {
              fill(status, errorBox(err));
            }
          }),
    ],
  }));

  const domain = h('input', {
    type: 'text',
    required: true,
    autocomplete: 'off',
    inputmode: 'url',
    placeholder: 'portal.example.com',
  });
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'add-domain-title' },
    h('h2', { id: 'add-domain-title' }, 'Add a domain'),
    field(
      'Domain',
      domain,
      'A domain you control. You will be shown a DNS TXT record to create; the domain is verified once the record is found.',
    ),
    h('button', { type: 'submit' }, 'Add domain'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, async () => {
      try {
        const added = await post('/api/org/domains', { domain: domain.value.trim() });
        form.reset();
        fill(
          status,
          notice(
            h('p', {}, `${added.domain} was added. Create this DNS record to verify it:`),
            txtRecord(added),
          ),
        );
      } catch (err) {
        fill(status, errorBox(err));
      }
    });
  });

  add(
    slot,
    status,
    form,
    h('h2', {}, 'Domains'),
    h(
      'p',
      {},
      'Verified domains serve this organisation and admit people with those email addresses when just-in-time sign-up is on.',
    ),
    table('Domains', ['Domain', 'Status', 'Verification record', 'Added', 'Verified', 'Actions'], rows, {
      empty: 'No domains yet.',
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Single sign-on

function pairs(list) {
  return h(
    'dl',
    { class: 'pairs' },
    list
      .filter(([, v]) => v !== undefined && v !== null && v !== '')
      .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}

export async function sso(ctx, slot) {
  // The role list needs members.read; without it the default role can only stay as it is.
  const [settings, roleList] = await Promise.all([
    get('/api/org/sso'),
    ctx.can('members.read') ? all('/api/org/roles') : [],
  ]);
  const status = h('div', { class: 'status-slot' });
  const p = settings.provider;
  const sp = settings.sp ?? {};
  const spValues = h(
    'section',
    { 'aria-labelledby': 'sp-title' },
    h('h2', { id: 'sp-title' }, 'Values for your identity provider'),
    h('p', {}, 'Give these to the administrator of your identity provider.'),
    pairs([
      ['OIDC redirect URI', sp.redirect_uri && h('code', {}, sp.redirect_uri)],
      ['SAML ACS URL', sp.acs_url && h('code', {}, sp.acs_url)],
      ['SAML entity ID', sp.entity_id && h('code', {}, sp.entity_id)],
      ['SAML metadata', sp.metadata_url && h('a', { href: sp.metadata_url }, sp.metadata_url)],
    ]),
  );
  if (!p) {
    add(
      slot,
      status,
      h(
        'p',
        {},
        'No identity provider is configured for this organisation yet. The platform operator sets it up with the values below.',
      ),
      spValues,
    );
    return;
  }
  const provider = h(
    'section',
    { 'aria-labelledby': 'provider-title' },
    h('h2', { id: 'provider-title' }, 'Identity provider'),
    pairs([
      ['Kind', p.kind === 'saml' ? 'SAML' : 'OpenID Connect'],
      ['Issuer', p.issuer && h('code', {}, p.issuer)],
      ['Entity ID', p.entity_id && h('code', {}, p.entity_id)],
      ['Client ID', p.client_id && h('code', {}, p.client_id)],
      ['Keys refreshed', when(p.keys_refreshed_at)],
      ['Refresh error', p.refresh_error && h('span', { class: 'warn' }, p.refresh_error)],
    ]),
  );

  const enforced = checkbox('Enforce single sign-on (no other way to sign in)', { checked: p.enforced });
  const jit = checkbox('Just-in-time membership for people with a verified email domain', { checked: p.jit });
  const names = roleList.map((r) => r.name);
  if (!names.includes(p.default_role)) names.unshift(p.default_role);
  const defaultRole = select(names, p.default_role, {});
  const domainsInput = h('input', {
    type: 'text',
    value: (p.allowed_email_domains ?? []).join(', '),
    autocomplete: 'off',
  });
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'sso-settings-title' },
    h('h2', { id: 'sso-settings-title' }, 'Sign-in rules'),
    enforced,
    jit,
    field('Role for new members', defaultRole),
    field('Allowed email domains', domainsInput, 'Comma-separated; empty means the verified domains.'),
    h('button', { type: 'submit' }, 'Save settings'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, async () => {
      try {
        await patch('/api/org/sso', {
          enforced: enforced.querySelector('input').checked,
          jit: jit.querySelector('input').checked,
          default_role: defaultRole.value,
          allowed_email_domains: domainsInput.value
            .split(',')
            .map((d) => d.trim().toLowerCase())
            .filter(Boolean),
        });
        fill(status, notice('Single sign-on settings saved.'));
      } catch (err) {
        fill(status, errorBox(err));
      }
    });
  });
  add(slot, status, provider, form, spValues);
}
