// One tenant: its record and usage; suspend, reactivate, delete (grace period, confirmed by
// typing the slug), restore; the export download; break-glass grants and their revocation.
import { ApiError, del, download, get, post } from './api.js';
import { add, busy, checkbox, confirmButton, errorBox, field, fill, h, notice, table, when } from './dom.js';
import { monthText, number, placementText, statusBadge } from './tenants.js';

function slugOf(ctx) {
  return ctx.url.pathname.replace(/\/+$/, '').split('/').pop();
}

export async function tenant(ctx, slot) {
  const slug = slugOf(ctx);
  const t = await get(`/api/platform/tenants/${slug}`);
  if (ctx.current()) draw(ctx, slot, t, null);
}

/** Redraws the page for tenant `t`, with `message` (a notice) on top. */
function draw(ctx, slot, t, message) {
  ctx.heading.textContent = `${t.name} (${t.slug})`;
  document.title = `${t.name} · Platform console`;
  const base = `/api/platform/tenants/${t.slug}`;
  /** Runs `work` (an API call resolving to the tenant after it), then redraws with `text`. */
  const act = (form, errors, work, text) =>
    busy(form, async () => {
      try {
        const after = await work();
        draw(ctx, slot, after ?? (await get(base)), text);
      } catch (err) {
        fill(errors, errorBox(err));
      }
    });

  slot.replaceChildren();
  add(
    slot,
    h('p', {}, h('a', { href: '/platform' }, '← All tenants')),
    message ? notice(message) : null,
    record(t),
    lifecycle(t, base, act),
    exporter(t, base),
    breakGlass(t, base, act),
    deletion(t, base, act),
  );
  const focus = slot.querySelector('.notice');
  if (focus) focus.focus();
}

function record(t) {
  const item = (term, value, id) => [h('dt', {}, term), h('dd', id ? { id } : {}, value)];
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'record-title' },
    h('h2', { id: 'record-title' }, 'Tenant'),
    h(
      'dl',
      { class: 'record' },
      item('Slug', h('code', {}, t.slug)),
      item('Status', statusBadge(t.status), 'tenant-status'),
      item('Plan', t.plan),
      item('Placement', placementText(t)),
      item('Created', when(t.created_at)),
      t.suspended_at ? item('Suspended', when(t.suspended_at)) : null,
      t.deleted_at ? item('Deleted', when(t.deleted_at)) : null,
      t.purge_after ? item('Purged after', when(t.purge_after)) : null,
      item('Members', number(t.members)),
      item('Requests today', number(t.requests_today)),
      item('Requests this month', monthText(t)),
    ),
  );
}

/** A form with a title, fields, an error slot and a submit button; `onsubmit(form, errors)`. */
function actionForm(id, title, description, fields, button, onsubmit, { danger = false } = {}) {
  const errors = h('div', { class: 'form-errors' });
  const form = h(
    'form',
    { class: 'card', id, 'aria-labelledby': `${id}-title`, novalidate: true },
    h('h2', { id: `${id}-title` }, title),
    description ? h('p', { class: 'muted' }, description) : null,
    fields,
    errors,
    h('button', { type: 'submit', class: danger ? 'danger' : null }, button),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    errors.replaceChildren();
    onsubmit(form, errors);
  });
  return form;
}

function reasonInput(name) {
  return h('input', { type: 'text', name, maxlength: '500', class: 'wide', autocomplete: 'off' });
}

/** `body` with the reason typed into `input`, when there is one. */
function withReason(body, input) {
  const reason = input.value.trim();
  return reason ? { ...body, reason } : body;
}

function lifecycle(t, base, act) {
  const forms = [];
  if (t.status === 'active') {
    const reason = reasonInput('reason');
    forms.push(
      actionForm(
        'suspend',
        'Suspend',
        'Requests to the tenant are refused (403 tenant_suspended) until it is reactivated. Its data stays.',
        field('Reason for suspending', reason, 'Written to the tenant’s audit log.'),
        'Suspend tenant',
        (form, errors) =>
          act(form, errors, () => post(`${base}/suspend`, { reason: reason.value }), `${t.slug} is suspended.`),
        { danger: true },
      ),
    );
  }
  if (t.status === 'suspended') {
    const reason = reasonInput('reason');
    forms.push(
      actionForm(
        'reactivate',
        'Reactivate',
        'The tenant serves requests again.',
        field('Reason for reactivating (optional)', reason, 'Written to the tenant’s audit log.'),
        'Reactivate tenant',
        (form, errors) =>
          act(form, errors, () => post(`${base}/reactivate`, withReason({}, reason)), `${t.slug} is active again.`),
      ),
    );
  }
  if (t.status === 'deleted') {
    const reason = reasonInput('reason');
    forms.push(
      actionForm(
        'restore',
        'Restore',
        t.purge_after ? ['Restorable until ', when(t.purge_after), '.'] : null,
        field('Reason for restoring (optional)', reason, 'Written to the tenant’s audit log.'),
        'Restore tenant',
        (form, errors) =>
          act(form, errors, () => post(`${base}/restore`, withReason({}, reason)), `${t.slug} is restored.`),
      ),
    );
  }
  return h('section', { 'aria-label': 'Lifecycle' }, forms);
}

/** The danger zone, last on the page: delete with a grace period, confirmed by the slug. */
function deletion(t, base, act) {
  const forms = [];
  if (t.status === 'active' || t.status === 'suspended') {
    const days = h('input', { type: 'number', name: 'grace_days', min: '1', max: '365', value: '30', inputmode: 'numeric' });
    const reason = reasonInput('reason');
    const confirm = h('input', { type: 'text', name: 'confirm', autocomplete: 'off', spellcheck: 'false' });
    forms.push(
      actionForm(
        'delete',
        'Delete',
        'The tenant stops serving at once. It can be restored during the grace period; after it, its data is purged.',
        [
          field('Grace period (days)', days, 'From 1 to 365 days.'),
          field('Reason for deleting (optional)', reason, 'Written to the tenant’s audit log.'),
          field('Type the slug to confirm', confirm, `Type ${t.slug} to delete this tenant.`),
        ],
        'Delete tenant',
        (form, errors) => {
          if (confirm.value.trim() !== t.slug) {
            fill(
              errors,
              errorBox(new ApiError(400, 'confirmation_mismatch', `Type ${t.slug} exactly to confirm the deletion.`)),
            );
            confirm.focus();
            return;
          }
          const n = Number(days.value);
          act(
            form,
            errors,
            () => post(`${base}/delete`, withReason({ grace_days: Number.isInteger(n) ? n : days.value }, reason)),
            `${t.slug} is deleted; it can be restored until the end of the grace period.`,
          );
        },
        { danger: true },
      ),
    );
  }
  return forms.length ? h('section', { 'aria-label': 'Deletion' }, forms) : null;
}

function exporter(t, base) {
  return actionForm(
    'export',
    'Export',
    'Everything the tenant owns as newline-delimited JSON: its control-plane rows and every row of its data. The export is written to its audit log.',
    null,
    'Download export',
    (form, result) =>
      busy(form, async () => {
        try {
          const { blob, filename } = await download(`${base}/export`);
          const last = JSON.parse((await blob.text()).trimEnd().split('\n').pop());
          const rows = Object.values(last.rows ?? {}).reduce((a, b) => a + b, 0);
          const url = URL.createObjectURL(blob);
          const link = h('a', { href: url, download: filename, hidden: true }, filename);
          document.body.append(link);
          link.click();
          link.remove();
          setTimeout(() => URL.revokeObjectURL(url), 60_000);
          fill(result, notice(`Downloaded ${filename}: ${number(rows)} rows.`));
        } catch (err) {
          fill(result, errorBox(err));
        }
      }),
  );
}

function breakGlass(t, base, act) {
  const grants = t.break_glass ?? [];
  const parts = [];
  if (t.status === 'active') {
    const reason = h('textarea', { name: 'reason', rows: '2', maxlength: '500', class: 'wide' });
    const write = checkbox('Allow writes (read-only unless checked)', { name: 'write' });
    const minutes = h('input', { type: 'number', name: 'minutes', min: '1', max: '240', value: '15', inputmode: 'numeric' });
    parts.push(
      actionForm(
        'grant',
        'Grant break-glass access',
        'Your platform token then works on the tenant’s own host until the access expires. The grant and every request made with it are written to the tenant’s audit log, which its owners see.',
        [
          field('Reason for access', reason, 'Required: 3 to 500 characters.'),
          write,
          field('Minutes', minutes, 'From 1 to 240 minutes.'),
        ],
        'Grant access',
        (form, errors) => {
          const n = Number(minutes.value);
          act(
            form,
            errors,
            async () => {
              await post(`${base}/break-glass`, {
                reason: reason.value,
                write: write.querySelector('input').checked,
                minutes: Number.isInteger(n) ? n : minutes.value,
              });
              return null;
            },
            'Break-glass access granted.',
          );
        },
      ),
    );
  } else {
    parts.push(h('p', { class: 'muted' }, 'Break-glass access can be granted only to an active tenant.'));
  }
  const rows = grants.map((g) => {
    const state = g.active ? 'active' : g.revoked_at ? 'revoked' : 'expired';
    const errors = h('span', { class: 'form-errors' });
    const form = h('form', { class: 'inline' });
    const revoke = g.active
      ? confirmButton('Revoke', 'Confirm: revoke', () =>
          act(form, errors, async () => {
            await del(`${base}/break-glass/${g.id}`);
            return null;
          }, 'Break-glass access revoked.'),
        )
      : null;
    form.append(...[revoke, errors].filter(Boolean));
    return {
      attrs: { 'data-grant': g.id },
      cells: [
        g.admin_label ?? g.admin_id,
        g.reason,
        g.read_only ? 'read-only' : 'read and write',
        when(g.created_at),
        when(g.expires_at),
        h('span', { class: `badge grant-${state}` }, state),
        form,
      ],
    };
  });
  return h(
    'section',
    { 'aria-labelledby': 'grants-title' },
    parts,
    h('h2', { id: 'grants-title' }, 'Break-glass grants'),
    table(
      'Break-glass grants',
      ['Admin', 'Reason', 'Access', 'Granted', 'Expires', 'State', 'Actions'],
      rows,
      { empty: 'No break-glass access was ever granted to this tenant.' },
    ),
  );
}
