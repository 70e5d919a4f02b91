# Sourced, not run (after env.sh): starts the demo's identity providers on loopback and
# connects them to the demo tenants, so a newcomer can sign in with a browser:
#
#   acme   -> OIDC IdP (npm oidc-provider)  http://127.0.0.1:54330   alice@acme.example / alice
#                                                                    carol@acme.example / carol (a member)
#   globex -> SAML IdP (pysaml2 + xmlsec1)  http://127.0.0.1:54331   bob@globex.example / bob
#                                                                    gina@globex.example / gina (a member)
#                                                                    alice@acme.example / alice (a member of globex too)
#
# Open http://acme.localhost:3000/auth/login or http://globex.localhost:3000/auth/login.
# Needs $TENANTGATE and $ADMIN_URL; exports the session key and the token endpoint's origin,
# and DEMO_IDP_PIDS (the caller stops them on exit). TENANTGATE_DEMO_IDPS=0 skips all this.

DEMO_OIDC_PORT="${DEMO_OIDC_PORT:-54330}"
DEMO_SAML_PORT="${DEMO_SAML_PORT:-54331}"
DEMO_IDP_PIDS=""

demo_wait_for() { # url, seconds
  local i
  for i in $(seq "$(( $2 * 10 ))"); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

if [ "${TENANTGATE_DEMO_IDPS:-1}" != "0" ]; then
  mkdir -p .tenantgate/idp
  # The session-cookie key: generated once, kept beside the data.
  [ -s .tenantgate/session.key ] || (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > .tenantgate/session.key)
  export SPIN_VARIABLE_SESSION_KEY="$(cat .tenantgate/session.key)"
  export SPIN_VARIABLE_SSO_TOKEN_ORIGIN="http://127.0.0.1:$DEMO_OIDC_PORT"

  # acme: OIDC.
  cat > .tenantgate/idp/oidc.json <<JSON
{"port": $DEMO_OIDC_PORT, "issuer": "http://127.0.0.1:$DEMO_OIDC_PORT",
 "clients": [{"client_id": "acme-demo", "client_secret": "acme-demo-secret",
              "redirect_uris": ["http://acme.localhost:3000/auth/oidc/callback"]}],
 "users": [{"sub": "alice", "password": "alice", "email": "alice@acme.example", "email_verified": true, "name": "Alice Admin"},
           {"sub": "carol", "password": "carol", "email": "carol@acme.example", "email_verified": true, "name": "Carol Coder"}]}
JSON
  node tests/idp/oidc/server.mjs --config .tenantgate/idp/oidc.json > .tenantgate/idp/oidc.log 2>&1 &
  DEMO_IDP_PIDS="$!"

  # globex: SAML. The IdP is told globex's SP metadata (its ACS URL), and globex the IdP's.
  "$TENANTGATE" sso sp-metadata --origin http://globex.localhost:3000 > .tenantgate/idp/globex-sp.xml
  cat > .tenantgate/idp/saml-users.json <<JSON
[{"username": "bob", "password": "bob", "name_id": "bob@globex.example", "email": "bob@globex.example", "name": "Bob Builder"},
 {"username": "gina", "password": "gina", "name_id": "gina@globex.example", "email": "gina@globex.example", "name": "Gina Globex"},
 {"username": "alice", "password": "alice", "name_id": "alice@acme.example", "email": "alice@acme.example", "name": "Alice Admin"}]
JSON
  .tenantgate/venv/bin/python tests/idp/saml/idp.py --port "$DEMO_SAML_PORT" \
    --entity-id "http://127.0.0.1:$DEMO_SAML_PORT/metadata" \
    --sp-metadata .tenantgate/idp/globex-sp.xml --users .tenantgate/idp/saml-users.json \
    --keydir .tenantgate/idp/saml-keys > .tenantgate/idp/saml.log 2>&1 &
  DEMO_IDP_PIDS="$DEMO_IDP_PIDS $!"

  if demo_wait_for "http://127.0.0.1:$DEMO_OIDC_PORT/.well-known/openid-configuration" 20 \
     && demo_wait_for "http://127.0.0.1:$DEMO_SAML_PORT/metadata" 20; then
    export DEMO_OIDC_SECRET="acme-demo-secret"
    "$TENANTGATE" sso set acme --database-url "$ADMIN_URL" --kind oidc --name "Acme Identity (demo OIDC)" \
      --issuer "http://127.0.0.1:$DEMO_OIDC_PORT" --client-id acme-demo --client-secret-env DEMO_OIDC_SECRET >/dev/null
    "$TENANTGATE" sso set globex --database-url "$ADMIN_URL" --kind saml --name "Globex Directory (demo SAML)" \
      --metadata-url "http://127.0.0.1:$DEMO_SAML_PORT/metadata" >/dev/null
    demo_log "sign in: http://acme.localhost:3000/auth/login (alice / alice), http://globex.localhost:3000/auth/login (bob / bob)"
  else
    demo_log "the demo identity providers did not start (see .tenantgate/idp/*.log); logins are off"
  fi
fi
