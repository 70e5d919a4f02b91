// Small DOM helpers for the organisation pages: element building (text only, never HTML
// strings, so nothing from the API is parsed as markup), labelled fields, tables, errors.

let nextId = 0;

/** A fresh id for pairing a <label for> with its control. */
export function uid(prefix = 'f') {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/**
 * `h('button', { type: 'button', onclick: fn, class: 'link' }, 'Text', child, [more])`.
 * Attributes: `class`, `for`, `on<event>` (functions), booleans (present when true), the rest
 * as attributes. Children: nodes, strings (as text), arrays; null, undefined and false skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = value;
    } else if (name === 'for') {
      el.htmlFor = value;
    } else if (name === 'value') {
      // The attribute too, so that form.reset() comes back to it.
      if (tag !== 'select' && tag !== 'textarea') el.setAttribute('value', String(value));
      el.value = value;
    } else if (name === 'checked') {
      el.defaultChecked = Boolean(value);
      el.checked = Boolean(value);
    } else if (name === 'selected') {
      el.defaultSelected = Boolean(value);
      el.selected = Boolean(value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends children as h() does: nodes, text, arrays; null, undefined and false skipped. */
export function add(el, ...children) {
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A labelled control: `<div class="field"><label for=id>label</label>control hint</div>`. */
export function field(label, control, hint) {
  if (!control.id) control.id = uid();
  let hintEl = null;
  if (hint) {
    hintEl = h('p', { class: 'hint', id: `${control.id}-hint` }, hint);
    control.setAttribute('aria-describedby', hintEl.id);
  }
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

/** A checkbox with its label after it. */
export function checkbox(label, attrs = {}) {
  const input = h('input', { type: 'checkbox', id: uid('c'), ...attrs });
  return h('div', { class: 'check' }, input, h('label', { for: input.id }, label));
}

/** A <select> of `options` ([value, text] pairs or strings) with `selected` chosen. */
export function select(options, selected, attrs = {}) {
  return h(
    'select',
    attrs,
    options.map((o) => {
      const [value, text] = Array.isArray(o) ? o : [o, o];
      return h('option', { value, selected: value === selected }, text);
    }),
  );
}

/** A table with a caption, column headers and rows of cells (nodes or text). */
export function table(caption, headers, rows, { empty = 'Nothing to show.' } = {}) {
  if (rows.length === 0) return h('p', { class: 'muted empty' }, empty);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('caption', { class: caption.visible ? null : 'sr-only' }, caption.text ?? caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((x) => h('th', { scope: 'col' }, x)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((row) =>
          h(
            'tr',
            row.attrs ?? {},
            (row.cells ?? row).map((c) => h('td', {}, c)),
          ),
        ),
      ),
    ),
  );
}

/** An API error for people: its message, then its code and request id. */
export function errorBox(err) {
  const code = err?.code ?? 'error';
  const message = err?.message || 'Something went wrong.';
  return h(
    'div',
    { class: 'notice error', role: 'alert', tabindex: '-1' },
    h('p', {}, message),
    h(
      'p',
      { class: 'muted small' },
      'Error code ',
      h('code', { class: 'error-code' }, code),
      err?.requestId ? [' · request ', h('code', {}, err.requestId)] : null,
    ),
  );
}

/** A success message that takes focus (so keyboard and screen reader users hear it). */
export function notice(...children) {
  return h('div', { class: 'notice ok', role: 'status', tabindex: '-1' }, children);
}

/** Replaces `slot`'s content and focuses the first notice or alert in it, if any. */
export function fill(slot, ...children) {
  slot.replaceChildren();
  append(slot, children);
  const focus = slot.querySelector('.notice');
  if (focus) focus.focus();
}

/** `2026-12-01T08:40:56Z` as a short local date and time; `—` for none. */
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return h(
    'time',
    { datetime: iso },
    d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }),
  );
}

/** A button that asks once more before acting: "Remove" then "Confirm: remove x" / "Cancel". */
export function confirmButton(label, question, action, attrs = {}) {
  const wrap = h('span', { class: 'confirm' });
  const first = h('button', { type: 'button', class: 'danger', ...attrs, onclick: ask }, label);
  wrap.append(first);
  function ask() {
    const yes = h('button', { type: 'button', class: 'danger', onclick: action }, question);
    const no = h('button', { type: 'button', class: 'secondary', onclick: reset }, 'Cancel');
    wrap.replaceChildren(yes, no);
    yes.focus();
  }
  function reset() {
    wrap.replaceChildren(first);
    first.focus();
  }
  return wrap;
}

/** Disables a form's controls while `work` runs (no double submissions). */
export async function busy(form, work) {
  const controls = [...form.querySelectorAll('button, input, select, textarea')];
  const was = controls.map((c) => c.disabled);
  controls.forEach((c) => {
    c.disabled = true;
  });
  form.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    controls.forEach((c, i) => {
      c.disabled = was[i];
    });
    form.removeAttribute('aria-busy');
  }
}
