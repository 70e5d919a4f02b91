// A real OpenID Connect provider (npm `oidc-provider`) for tenantgate's SSO tests and demo.
//
//   node tests/idp/oidc/server.mjs --config FILE
//
// FILE is JSON:
//   {"port": P, "issuer": "http://127.0.0.1:P",
//    "clients": [{"client_id", "client_secret", "redirect_uris": [...],
//                 "token_endpoint_auth_method"?: "client_secret_basic" | "client_secret_post"}],
//    "users": [{"sub", "password", "email", "email_verified", "name"}],
//    "ttl"?: {"AuthorizationCode": 60, "IdToken": 3600, ...},   // seconds, oidc-provider's ttl keys
//    "consent"?: "auto" | "confirm",                             // default "auto"
//    "response_iss"?: "omit" | "<any string>"}                   // attack knob, see below
//
// Listens on 127.0.0.1 only, prints `READY <issuer>` on stdout once listening, exits 0 on SIGTERM
// or SIGINT. Authorisation code flow only, PKCE S256 required for every client, scopes openid,
// email and profile, email/email_verified/name in the ID token, the RFC 9207 `iss` parameter in
// every authorisation response, no refresh tokens, and its own login and consent pages (the
// library's development interactions are off).
//
// Attack knobs: users are free data, so a user with `"email_verified": false` or with an email of
// another domain is just another entry in `users`. `response_iss` rewrites the `iss` parameter
// of authorisation responses on their way out: "omit" drops it, any other string replaces it
// (a mix-up attack as seen by the relying party).
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

import { consentPage, escapeHtml, loginPage } from './pages.mjs';

const { values: args } = parseArgs({ options: { config: { type: 'string' } } });
if (!args.config) {
  console.error('usage: node server.mjs --config FILE');
  process.exit(2);
}
const config = JSON.parse(readFileSync(args.config, 'utf8'));
const issuer = new URL(config.issuer);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname)) {
  // The test IdP speaks plain http, which is only acceptable on loopback.
  console.error(`issuer ${config.issuer} is not a loopback address`);
  process.exit(2);
}
const users = config.users ?? [];
const consentMode = config.consent ?? 'auto';

/** The user whose sub or email is `username` and whose password matches, else undefined. */
function checkPassword(username, password) {
  const user = users.find((u) => u.sub === username) ?? users.find((u) => u.email === username);
  return user && typeof password === 'string' && user.password === password ? user : undefined;
}

// A fresh RS256 signing key per start; relying parties fetch it from jwks_uri.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: randomBytes(8).toString('hex'),
  use: 'sig',
  alg: 'RS256',
};

const provider = new Provider(config.issuer, {
  clients: (config.clients ?? []).map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
  })),
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  responseTypes: ['code'],
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // Scope claims go into the ID token even though an access token is issued too.
  conformIdTokenClaims: false,
  issueRefreshToken: async () => false,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  features: {
    devInteractions: { enabled: false },
    revocation: { enabled: false },
  },
  ttl: config.ttl ?? {},
  interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, sub) {
    const user = users.find((u) => u.sub === sub);
    if (!user) return undefined;
    return {
      accountId: user.sub,
      async claims() {
        return {
          sub: user.sub,
          email: user.email,
          email_verified: user.email_verified,
          name: user.name,
        };
      },
    };
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>Sign-in error</title><h1>Sign-in error</h1>${Object.entries(out)
      .map(([k, v]) => `<p><strong>${escapeHtml(k)}</strong>: <span>${escapeHtml(v)}</span></p>`)
      .join('')}`;
  },
});

provider.on('server_error', (_ctx, err) => console.error('server_error', err));

/** Reads an application/x-www-form-urlencoded body (bounded). */
async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 64 * 1024) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

function sendHtml(res, status, html) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(html);
}

/** Grants what the consent prompt asks for and finishes the interaction. */
async function grantConsent(req, res, details) {
  const { prompt, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const saved = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId: saved } }, {
    mergeWithLastSubmission: true,
  });
}

/** Our own interaction pages: GET shows login or consent, POST checks the form. */
async function interaction(req, res, url) {
  const [, , uid, action] = url.pathname.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return sendHtml(res, 400, '<p>interaction mismatch</p>');
  const client = await provider.Client.find(details.params.client_id);
  const clientName = client?.clientName ?? details.params.client_id;

  if (req.method === 'GET' && !action) {
    if (details.prompt.name === 'login') return sendHtml(res, 200, loginPage({ uid, clientName }));
    if (consentMode === 'auto') return grantConsent(req, res, details);
    return sendHtml(res, 200, consentPage({ uid, clientName, scope: details.params.scope }));
  }
  if (req.method === 'POST' && action === 'login' && details.prompt.name === 'login') {
    const form = await readForm(req);
    const user = checkPassword(form.get('username'), form.get('password'));
    if (!user) {
      return sendHtml(res, 200, loginPage({
        uid, clientName, username: form.get('username') ?? '', error: 'Invalid username or password.',
      }));
    }
    return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, {
      mergeWithLastSubmission: false,
    });
  }
  if (req.method === 'POST' && action === 'confirm' && details.prompt.name === 'consent') {
    await readForm(req);
    return grantConsent(req, res, details);
  }
  if (req.method === 'POST' && action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }
  return sendHtml(res, 400, '<p>unexpected interaction step</p>');
}

/** Applies the `response_iss` knob to a redirect back to a client. */
function rewriteIss(location) {
  if (config.response_iss === undefined || location === undefined) return location;
  let url;
  try {
    url = new URL(String(location));
  } catch {
    return location;
  }
  if (url.origin === issuer.origin || !url.searchParams.has('iss')) return location;
  if (config.response_iss === 'omit') url.searchParams.delete('iss');
  else url.searchParams.set('iss', config.response_iss);
  return url.href;
}

const callback = provider.callback();
const server = createServer(async (req, res) => {
  const url = new URL(req.url, issuer.origin);
  if (config.response_iss !== undefined) {
    const setHeader = res.setHeader.bind(res);
    res.setHeader = (name, value) => setHeader(
      name,
      String(name).toLowerCase() === 'location' ? rewriteIss(value) : value,
    );
  }
  if (url.pathname.startsWith('/interaction/')) {
    try {
      await interaction(req, res, url);
    } catch (err) {
      console.error('interaction error', err);
      if (!res.headersSent) sendHtml(res, 400, `<p>${escapeHtml(err.message ?? 'error')}</p>`);
    }
    return;
  }
  callback(req, res);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`READY ${config.issuer}\n`);
});
