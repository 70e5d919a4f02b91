// The IdP's own interaction pages: a login form and a one-click consent page.
//
// Their shape is a contract with the Rust harness (tests/harness/idp.rs) and the browser runner
// (tests/browser/oidc_login.mjs): forms carry `data-form="login"` or `data-form="consent"` and
// post to `/interaction/<uid>/login` or `/interaction/<uid>/confirm`; the login form has inputs
// labelled "Username" and "Password" and a "Sign in" button; the consent form a "Continue" button;
// a failed login shows the login form again with `role="alert"` text.

/** Escapes text for HTML element and attribute content. */
export function escapeHtml(value) {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function layout(title, body) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font-family: system-ui, sans-serif; background: #f3f4f6; margin: 0; }
  main { max-width: 22rem; margin: 4rem auto; background: #fff; padding: 2rem; border-radius: 8px;
         box-shadow: 0 1px 4px rgba(0,0,0,.15); }
  h1 { font-size: 1.3rem; margin-top: 0; }
  label { display: block; margin-top: 1rem; font-weight: 600; }
  input { width: 100%; box-sizing: border-box; padding: .5rem; margin-top: .25rem; font-size: 1rem; }
  button { margin-top: 1.5rem; width: 100%; padding: .6rem; font-size: 1rem; background: #1d4ed8;
           color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
  .alert { color: #b91c1c; margin-top: 1rem; }
  .muted { color: #6b7280; font-size: .85rem; }
</style>
</head>
<body><main>
${body}
</main></body>
</html>`;
}

/** The login form for interaction `uid`; `error` re-renders it after a failed attempt. */
export function loginPage({ uid, clientName, username = '', error }) {
  const alert = error ? `<p class="alert" role="alert">${escapeHtml(error)}</p>` : '';
  return layout('Sign in', `<h1>Sign in</h1>
<p class="muted">to continue to <strong>${escapeHtml(clientName)}</strong></p>
${alert}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" data-form="login" autocomplete="off">
  <label for="username">Username</label>
  <input id="username" name="username" type="text" value="${escapeHtml(username)}" required autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" required>
  <button type="submit">Sign in</button>
</form>`);
}

/** The one-click consent page for interaction `uid`. */
export function consentPage({ uid, clientName, scope }) {
  return layout('Allow access', `<h1>Allow access</h1>
<p><strong>${escapeHtml(clientName)}</strong> asks for: <code>${escapeHtml(scope ?? '')}</code></p>
<form method="post" action="/interaction/${escapeHtml(uid)}/confirm" data-form="consent">
  <button type="submit">Continue</button>
</form>
<form method="post" action="/interaction/${escapeHtml(uid)}/abort" data-form="abort">
  <button type="submit" style="background:#6b7280">Cancel</button>
</form>`);
}
