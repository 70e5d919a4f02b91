// The tenant list: search by slug or name, filter by status, page by slug; status, plan,
// placement and usage per tenant.
import { get, withQuery } from './api.js';
import { add, field, h, select, table } from './dom.js';

export const STATUSES = [
  ['', 'Any status'],
  ['active', 'Active'],
  ['suspended', 'Suspended'],
  ['deleted', 'Deleted'],
];

export const number = (n) => (typeof n === 'number' ? n.toLocaleString() : String(n ?? '—'));

/** A status as a badge (text, not colour alone). */
export function statusBadge(status) {
  return h('span', { class: `badge status-${status}` }, status);
}

/** "placement" or "placement: target / schema". */
export function placementText(t) {
  const where = [t.database_target, t.schema_name].filter(Boolean).join(' / ');
  return where ? `${t.placement}: ${where}` : t.placement;
}

/** Requests this month, and of what quota. */
export function monthText(t) {
  return t.monthly_quota ? `${number(t.requests_month)} of ${number(t.monthly_quota)}` : number(t.requests_month);
}

export async function tenants(ctx, slot) {
  const params = ctx.url.searchParams;
  const q = params.get('q') ?? '';
  const status = STATUSES.some(([v]) => v === params.get('status')) ? params.get('status') : '';
  const after = params.get('after') ?? '';
  const data = await get(withQuery('/api/platform/tenants', { q, status, after, limit: 25 }));
  if (!ctx.current()) return;

  const search = h('input', { type: 'search', name: 'q', value: q, maxlength: '200', placeholder: 'slug or name' });
  const picker = select(STATUSES, status, { name: 'status' });
  const form = h(
    'form',
    { class: 'inline filters', role: 'search', 'aria-label': 'Tenants' },
    field('Search', search),
    field('Status', picker),
    h('button', { type: 'submit' }, 'Search'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    ctx.navigate(withQuery('/platform', { q: search.value.trim(), status: picker.value }));
  });

  const rows = data.tenants.map((t) => ({
    attrs: { 'data-slug': t.slug },
    cells: [
      h('a', { href: `/platform/tenants/${t.slug}` }, t.slug),
      t.name,
      statusBadge(t.status),
      t.plan,
      placementText(t),
      number(t.members),
      number(t.requests_today),
      monthText(t),
    ],
  }));
  const paging = h(
    'nav',
    { class: 'paging', 'aria-label': 'Pages of tenants' },
    after ? h('a', { href: withQuery('/platform', { q, status }) }, 'First page') : null,
    data.next ? h('a', { href: withQuery('/platform', { q, status, after: data.next }), rel: 'next' }, 'Next page') : null,
  );
  add(
    slot,
    form,
    table(
      { text: 'Tenants', visible: false },
      ['Slug', 'Name', 'Status', 'Plan', 'Placement', 'Members', 'Requests today', 'Requests this month'],
      rows,
      { empty: q || status ? 'No tenant matches.' : 'No tenants yet.' },
    ),
    paging,
  );
}
