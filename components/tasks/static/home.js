// The tenant's home page (`/` on its host, served by `tasks`): the organisation's tasks, a form
// to add one for members holding `tasks.write`, and the way to the organisation's pages. The
// same strict CSP as /admin (no inline script or style) and the same CSRF rule: every change
// carries the session's token (api.js). Text from the API is only ever set as text (dom.js).

import { ApiError, get, loadSession, loginUrl, post } from '/assets/api.js';
import { busy, errorBox, field, fill, h, notice, select } from '/assets/dom.js';

const state = { session: null, me: null, projects: [], tasks: [] };

const can = (permission) => Boolean(state.session?.permissions?.includes(permission));

function renderChrome() {
  const brand = document.getElementById('org-name');
  const account = document.getElementById('account');
  const name = state.me?.tenant?.name ?? state.session?.tenant?.name ?? location.hostname;
  brand.textContent = name;
  document.title = `Tasks · ${name}`;
  if (!state.session) {
    account.replaceChildren(h('a', { class: 'button', href: loginUrl('/') }, 'Sign in'));
    return;
  }
  const who = state.me?.user?.display_name || state.me?.user?.email || 'Signed in';
  account.replaceChildren(
    h('span', { class: 'who' }, who),
    ' ',
    h('a', { href: '/admin' }, 'Organisation settings'),
    h(
      'form',
      { method: 'post', action: '/auth/logout', class: 'inline' },
      h('button', { type: 'submit', class: 'secondary' }, 'Sign out'),
    ),
  );
}

/** Reads every project and task (the first pages: a home page, not an archive). */
async function load() {
  const [projects, tasks] = await Promise.all([
    get('/api/projects?limit=100'),
    get('/api/tasks?limit=100'),
  ]);
  state.projects = projects.items;
  state.tasks = tasks.items;
}

function taskList() {
  if (state.tasks.length === 0) return h('p', { class: 'muted', id: 'no-tasks' }, 'No tasks yet.');
  const projectName = new Map(state.projects.map((p) => [p.id, p.name]));
  return h(
    'ul',
    { class: 'tasks', id: 'tasks' },
    state.tasks.map((t) =>
      h(
        'li',
        { 'data-id': t.id },
        h('span', { class: 'task-title' }, t.title),
        ' ',
        h('span', { class: 'muted small' }, projectName.get(t.project_id) ?? ''),
        t.done ? [' ', h('span', { class: 'role' }, 'done')] : null,
      ),
    ),
  );
}

function addForm(status) {
  if (!can('tasks.write')) return null;
  if (state.projects.length === 0) {
    const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 200 });
    const form = h(
      'form',
      { id: 'add-project', class: 'card' },
      h('h2', {}, 'Add a project'),
      field('Project name', name),
      h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Add project')),
    );
    form.addEventListener('submit', (e) =>
      submit(e, form, status, async () => {
        await post('/api/projects', { name: name.value.trim() });
        return 'Project added.';
      }),
    );
    return form;
  }
  const title = h('input', { type: 'text', name: 'title', required: true, maxlength: 500 });
  const project = select(
    state.projects.map((p) => [p.id, p.name]),
    state.projects[0].id,
    { name: 'project' },
  );
  const form = h(
    'form',
    { id: 'add-task', class: 'card' },
    h('h2', {}, 'Add a task'),
    field('Title', title),
    field('Project', project),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Add task')),
  );
  form.addEventListener('submit', (e) =>
    submit(e, form, status, async () => {
      await post('/api/tasks', { project_id: project.value, title: title.value.trim() });
      return 'Task added.';
    }),
  );
  return form;
}

async function submit(event, form, status, work) {
  event.preventDefault();
  try {
    const message = await busy(form, work);
    await load();
    render();
    fill(document.getElementById('status'), notice(message));
  } catch (err) {
    fill(status, errorBox(err));
  }
}

function render() {
  renderChrome();
  const main = document.getElementById('main');
  const heading = h('h1', { id: 'page-title', tabindex: '-1' }, 'Tasks');
  const status = h('div', { id: 'status', 'aria-live': 'polite' });
  main.replaceChildren(heading, status, taskList(), addForm(status));
}

/** Why the tasks cannot be shown, and what to do. */
function refused(err) {
  renderChrome();
  const main = document.getElementById('main');
  const heading = h('h1', { id: 'page-title', tabindex: '-1' }, 'Tasks');
  const slot = h('div', { id: 'status' });
  main.replaceChildren(heading, slot);
  const signIn =
    !state.session && err instanceof ApiError && (err.status === 401 || err.status === 403);
  fill(
    slot,
    errorBox(err),
    signIn ? h('p', {}, h('a', { href: loginUrl('/') }, "Sign in to see this organisation's tasks.")) : null,
  );
}

async function start() {
  state.session = await loadSession();
  if (state.session) state.me = await get('/api/org/me').catch(() => null);
  try {
    await load();
  } catch (err) {
    refused(err);
    return;
  }
  render();
}

start();
