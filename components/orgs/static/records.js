// Records: usage (requests per day against the monthly quota) and the audit log (filters,
// paging, export links).
import { get, withQuery } from './api.js';
import { field, h, select, table, when, add } from './dom.js';

const DAY_CHOICES = [
  ['7', 'Last 7 days'],
  ['30', 'Last 30 days'],
  ['90', 'Last 90 days'],
];

const number = (n) => (typeof n === 'number' ? n.toLocaleString() : String(n ?? '—'));

// ---------------------------------------------------------------------------------------------
// Usage

export async function usage(ctx, slot) {
  const wanted = ctx.url.searchParams.get('days');
  const days = DAY_CHOICES.some(([v]) => v === wanted) ? wanted : '30';
  const data = await get(withQuery('/api/org/usage', { days }));
  const picker = select(DAY_CHOICES, days, { name: 'days' });
  const form = h(
    'form',
    { class: 'inline filters' },
    field('Period', picker),
    h('button', { type: 'submit' }, 'Show'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    ctx.navigate(withQuery('/admin/usage', { days: picker.value }));
  });

  const mtd = typeof data.month_to_date === 'object' ? data.month_to_date?.requests : data.month_to_date;
  const quota = data.monthly_quota;
  const summary = h(
    'section',
    { class: 'card', 'aria-labelledby': 'month-title' },
    h('h2', { id: 'month-title' }, 'This month'),
    h(
      'p',
      { class: 'big', id: 'month-to-date' },
      `${number(mtd)} requests`,
      quota ? ` of ${number(quota)}` : null,
    ),
    h(
      'p',
      { class: 'muted' },
      quota
        ? 'Counted against the monthly quota of your plan since the first of the month.'
        : 'Counted since the first of the month; your plan has no monthly quota.',
    ),
    quota
      ? [
          h('label', { for: 'quota-meter', class: 'sr-only' }, 'Share of the monthly quota used'),
          h('meter', {
            id: 'quota-meter',
            min: '0',
            max: String(quota),
            value: String(mtd ?? 0),
            high: String(quota * 0.8),
          }),
        ]
      : null,
  );

  const rows = [...(data.days ?? [])].sort((a, b) => String(b.day).localeCompare(String(a.day)));
  // Columns beyond day and requests (per route class, ...) as the API gives them.
  const extra = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter(
    (k) => k !== 'day' && k !== 'requests',
  );
  const peak = Math.max(1, ...rows.map((r) => Number(r.requests) || 0));
  add(
    slot,
    form,
    summary,
    h('h2', {}, 'Requests per day'),
    table(
      'Requests per day',
      ['Day', 'Requests', ...extra.map((k) => k.replaceAll('_', ' ')), 'Share of the busiest day'],
      rows.map((r) => [
        String(r.day),
        number(r.requests),
        ...extra.map((k) => number(r[k])),
        h('meter', {
          min: '0',
          max: String(peak),
          value: String(Number(r.requests) || 0),
          'aria-label': `Requests on ${r.day}`,
        }),
      ]),
      { empty: 'No requests in this period.' },
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Audit log

const ACTIONS = [
  'member.role_changed',
  'member.removed',
  'member.left',
  'invitation.created',
  'invitation.resent',
  'invitation.revoked',
  'invitation.accepted',
  'role.created',
  'role.updated',
  'role.deleted',
  'domain.added',
  'domain.removed',
  'sso.updated',
  'organisation.created',
];

/** A UTC date (yyyy-mm-dd) as the start of that day, or of the next one (`end`), in RFC 3339. */
function dayBound(date, end) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date ?? '')) return undefined;
  const d = new Date(`${date}T00:00:00Z`);
  if (end) d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().replace('.000Z', 'Z');
}

function json(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === 'object' && Object.keys(value).length === 0) return null;
  return h('pre', {}, JSON.stringify(value, null, 1));
}

/** A value of an audit state in one short line. */
function brief(value) {
  if (value === undefined || value === null) return '—';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * What changed, one line per field (`role: member → admin`); a created or removed item lists
 * its fields; the whole before, after and detail records fold out below.
 */
function change(entry) {
  const before = entry.before && typeof entry.before === 'object' ? entry.before : null;
  const after = entry.after && typeof entry.after === 'object' ? entry.after : null;
  const keys = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])];
  const lines = keys
    .filter((k) => JSON.stringify(before?.[k]) !== JSON.stringify(after?.[k]))
    // A created or removed item: its fields that have a value.
    .filter((k) => (before && after) || (before ?? after)[k] !== null)
    .map((k) =>
      h(
        'li',
        {},
        h('code', {}, k),
        ': ',
        before ? brief(before[k]) : null,
        before && after ? ' → ' : null,
        after ? brief(after[k]) : null,
      ),
    );
  const full = [json(entry.before), json(entry.after), json(entry.detail)];
  if (lines.length === 0 && !full.some(Boolean)) return '—';
  return h(
    'div',
    { 'data-changes': '' },
    before && !after ? h('p', { class: 'small' }, 'Removed:') : null,
    !before && after ? h('p', { class: 'small' }, 'Created:') : null,
    lines.length ? h('ul', { class: 'diff' }, lines) : null,
    h(
      'details',
      {},
      h('summary', {}, 'Full record'),
      full[0] ? [h('p', { class: 'small' }, 'Before'), full[0]] : null,
      full[1] ? [h('p', { class: 'small' }, 'After'), full[1]] : null,
      full[2] ? [h('p', { class: 'small' }, 'Detail'), full[2]] : null,
    ),
  );
}

function actor(a) {
  if (!a) return '—';
  if (a.kind === 'user') return a.email ?? a.user_id ?? 'user';
  return [a.kind.replaceAll('_', ' '), a.email ? ` (${a.email})` : null];
}

/** The target, with the email or name the entry's state names (targets are often ids). */
function targetCell(entry) {
  const state = entry.after ?? entry.before ?? {};
  const label = state && typeof state === 'object' ? (state.email ?? state.name ?? state.domain) : null;
  if (!entry.target) return label ?? '—';
  return [
    label && label !== entry.target ? [label, h('br')] : null,
    h('span', { class: 'small muted' }, entry.target),
  ];
}

export async function audit(ctx, slot) {
  const q = ctx.url.searchParams;
  const filters = {
    action: ACTIONS.includes(q.get('action')) ? q.get('action') : '',
    actor: q.get('actor') ?? '',
    target: q.get('target') ?? '',
    since: q.get('since') ?? '',
    until: q.get('until') ?? '',
  };
  const after = q.get('after') ?? '';
  const range = { since: dayBound(filters.since, false), until: dayBound(filters.until, true) };
  const page = await get(
    withQuery('/api/org/audit', {
      action: filters.action,
      actor: filters.actor,
      target: filters.target,
      ...range,
      limit: 50,
      after,
    }),
  );

  const action = select([['', 'Any action'], ...ACTIONS], filters.action, { name: 'action' });
  const who = h('input', { type: 'text', name: 'actor', value: filters.actor, autocomplete: 'off' });
  const target = h('input', { type: 'text', name: 'target', value: filters.target, autocomplete: 'off' });
  const since = h('input', { type: 'date', name: 'since', value: filters.since });
  const until = h('input', { type: 'date', name: 'until', value: filters.until });
  const form = h(
    'form',
    { class: 'card filters', 'aria-labelledby': 'filter-title' },
    h('h2', { id: 'filter-title' }, 'Filter'),
    h(
      'div',
      { class: 'row' },
      field('Action', action),
      field('Actor', who, 'User id or email.'),
      field('Target', target),
      field('From (UTC date)', since),
      field('To (UTC date)', until),
    ),
    h(
      'div',
      { class: 'buttons' },
      h('button', { type: 'submit' }, 'Apply filters'),
      h('a', { href: '/admin/audit', class: 'button secondary' }, 'Clear'),
    ),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    ctx.navigate(
      withQuery('/admin/audit', {
        action: action.value,
        actor: who.value.trim(),
        target: target.value.trim(),
        since: since.value,
        until: until.value,
      }),
    );
  });

  const base = { ...filters };
  const exportQuery = { ...range };
  const exports = h(
    'p',
    { class: 'exports' },
    'Export every matching entry (date filters apply): ',
    h(
      'a',
      { href: withQuery('/api/org/audit/export', { format: 'csv', ...exportQuery }), download: '' },
      'CSV',
    ),
    ' · ',
    h(
      'a',
      { href: withQuery('/api/org/audit/export', { format: 'jsonl', ...exportQuery }), download: '' },
      'JSON lines',
    ),
  );

  const paging = h(
    'nav',
    { 'aria-label': 'Audit log pages', class: 'paging' },
    after ? h('a', { href: withQuery('/admin/audit', base) }, 'Newest entries') : null,
    page.next
      ? h(
          'a',
          { href: withQuery('/admin/audit', { ...base, after: page.next }), rel: 'next' },
          'Older entries',
        )
      : null,
  );

  add(
    slot,
    form,
    exports,
    table(
      'Audit log entries, newest first',
      ['When', 'Actor and address', 'Action', 'Target', 'Changes and request'],
      page.items.map((e) => ({
        attrs: { 'data-action': e.action },
        cells: [
          when(e.at),
          [
            actor(e.actor),
            e.client_addr
              ? [
                  h('br'),
                  h('span', { class: 'small muted', 'data-client-addr': '' }, `from ${e.client_addr}`),
                ]
              : null,
          ],
          h('code', { class: 'nowrap' }, e.action),
          targetCell(e),
          [
            change(e),
            e.request_id
              ? h('p', { class: 'small muted request' }, 'request ', h('code', {}, e.request_id))
              : null,
          ],
        ],
      })),
      { empty: 'No entries match.' },
    ),
    paging,
  );
}
