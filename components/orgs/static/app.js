// Placeholder: the admin pages' router and views (helper B replaces this file).
const app = document.getElementById('app');
const res = await fetch('/api/org/me', { credentials: 'same-origin' });
app.textContent = res.ok ? 'Signed in.' : 'Not signed in.';
