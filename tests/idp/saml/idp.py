#!/usr/bin/env python3
"""A real SAML 2.0 identity provider for tests, built on pysaml2 (signatures by xmlsec1).

    python3 tests/idp/saml/idp.py --port P --entity-id URL --sp-metadata FILE... --users users.json --keydir DIR

Binds 127.0.0.1 only (port 0 picks a free one) and prints `READY <port>` once listening. Serves:
  GET  /metadata                         the IdP's metadata (EntityDescriptor, HTTP-Redirect SSO, signing cert)
  GET  /sso/redirect?SAMLRequest=&RelayState=   a login form for an AuthnRequest (HTTP-Redirect binding)
  POST /login                            checks the user, answers with an auto-submitting HTTP-POST form carrying
                                         SAMLResponse (+RelayState) to the SP's ACS; the assertion is signed
  POST /test/mint                        test-only: JSON knobs in, {"SAMLResponse": base64} out (see mint())
users.json: [{"username", "password", "name_id", "email", "name"}]. Test use only: no TLS, users in memory.
"""

import argparse
import base64
import html
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, samlp
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.s_utils import error_status_factory
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_UNSPECIFIED, NameID
from saml2.saml import NAME_FORMAT_URI
from saml2.server import Server
from saml2.sigver import pre_signature_part, signed_instance_factory
from saml2.xmldsig import (
    DIGEST_SHA1,
    DIGEST_SHA256,
    DIGEST_SHA512,
    SIG_RSA_SHA1,
    SIG_RSA_SHA256,
    SIG_RSA_SHA512,
)

ALGORITHMS = {
    "sha1": (SIG_RSA_SHA1, DIGEST_SHA1),
    "sha256": (SIG_RSA_SHA256, DIGEST_SHA256),
    "sha512": (SIG_RSA_SHA512, DIGEST_SHA512),
}
AUTHN = {"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}


def ensure_key(keydir):
    """A self-signed RSA-2048 key and certificate in keydir (made with openssl if absent)."""
    os.makedirs(keydir, exist_ok=True)
    key, cert = os.path.join(keydir, "idp.key"), os.path.join(keydir, "idp.crt")
    if not (os.path.exists(key) and os.path.exists(cert)):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
             "-subj", "/CN=tenantgate-test-idp", "-keyout", key, "-out", cert],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    return key, cert


def make_server(base_url, entity_id, sp_metadata, key, cert):
    config = IdPConfig()
    config.load({
        "entityid": entity_id,
        "service": {"idp": {
            "endpoints": {"single_sign_on_service": [(base_url + "/sso/redirect", BINDING_HTTP_REDIRECT)]},
            "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None,
                                   "name_form": NAME_FORMAT_URI}},
            "name_id_format": [NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_UNSPECIFIED],
            "sign_assertion": True,
            "sign_response": False,
            "want_authn_requests_signed": False,
        }},
        "key_file": key,
        "cert_file": cert,
        "metadata": {"local": list(sp_metadata)},
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
    })
    return Server(config=config), config


def iso(unix_seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix_seconds))


def as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class Idp:
    def __init__(self, server, config, users):
        self.server, self.config = server, config
        self.users = {u["username"]: u for u in users}
        self.pending = {}  # form token -> (response args, relay state)
        self.lock = threading.Lock()

    def metadata(self):
        return create_metadata_string(None, config=self.config).decode()

    def unsigned_response(self, user, sp_entity, acs, in_response_to):
        """A pysaml2 Response instance, nothing signed yet."""
        name_id = NameID(format=NAMEID_FORMAT_EMAILADDRESS if "@" in user["name_id"] else NAMEID_FORMAT_UNSPECIFIED,
                         text=user["name_id"])
        identity = {"mail": [user["email"]], "displayName": [user["name"]]}
        response = self.server.create_authn_response(
            identity, in_response_to, acs, sp_entity, name_id=name_id, authn=AUTHN,
            sign_assertion=False, sign_response=False)
        if isinstance(response, str):
            response = samlp.response_from_string(response)
        return response

    def sign(self, response, sign_assertion, sign_response, algorithm="sha256"):
        sign_alg, digest_alg = ALGORITHMS[algorithm]
        cert = self.server.sec.my_cert
        to_sign = []
        for assertion in as_list(response.assertion):
            if sign_assertion:
                assertion.signature = pre_signature_part(assertion.id, cert, 2, sign_alg=sign_alg,
                                                         digest_alg=digest_alg)
                to_sign.append((assertion.c_tag if hasattr(assertion, "c_tag") else "Assertion", assertion.id))
        if sign_response:
            response.signature = pre_signature_part(response.id, cert, 1, sign_alg=sign_alg, digest_alg=digest_alg)
            to_sign.append(("Response", response.id))
        xml = signed_instance_factory(response, self.server.sec, to_sign)
        return xml if isinstance(xml, str) else xml.to_string().decode()

    def login_response(self, args, user):
        response = self.unsigned_response(user, args["sp_entity_id"], args["destination"], args["in_response_to"])
        return self.sign(response, sign_assertion=True, sign_response=False)

    def mint(self, knobs):
        """Test-only: a response for knobs['sp'] at knobs['acs'] for knobs['user'] (a username), with overrides.

        Knobs (all optional but sp, acs, user): in_response_to (null for unsolicited; Response and
        SubjectConfirmationData), confirmation_in_response_to (SubjectConfirmationData only), sign_assertion (true),
        sign_response (false), algorithm (sha256|sha512|sha1), audience, recipient, destination (null drops it),
        issuer (Response and Assertion), assertion_issuer, now (unix seconds, default the clock),
        not_before / not_on_or_after / confirmation_not_on_or_after (offsets in seconds from now),
        status ("success" or a failure), name_id.
        """
        user = dict(self.users[knobs["user"]])
        if "name_id" in knobs:
            user["name_id"] = knobs["name_id"]
        response = self.unsigned_response(user, knobs["sp"], knobs["acs"], knobs.get("in_response_to"))
        now = int(knobs.get("now") or time.time())
        [assertion] = as_list(response.assertion)
        conditions = assertion.conditions
        confirmation = assertion.subject.subject_confirmation[0]
        data = confirmation.subject_confirmation_data
        response.issue_instant = assertion.issue_instant = iso(now)
        for statement in assertion.authn_statement:
            statement.authn_instant = iso(now)
            statement.session_not_on_or_after = None
        conditions.not_before = iso(now + int(knobs.get("not_before", -60)))
        conditions.not_on_or_after = iso(now + int(knobs.get("not_on_or_after", 300)))
        data.not_on_or_after = iso(now + int(knobs.get("confirmation_not_on_or_after", 300)))
        if "audience" in knobs:
            conditions.audience_restriction[0].audience[0].text = knobs["audience"]
        if "recipient" in knobs:
            data.recipient = knobs["recipient"]
        if "destination" in knobs:
            response.destination = knobs["destination"]
        if "in_response_to" in knobs and knobs["in_response_to"] is None:
            response.in_response_to = None
            data.in_response_to = None
        if "confirmation_in_response_to" in knobs:
            data.in_response_to = knobs["confirmation_in_response_to"]
        if "issuer" in knobs:
            response.issuer.text = knobs["issuer"]
            assertion.issuer.text = knobs["issuer"]
        if "assertion_issuer" in knobs:
            assertion.issuer.text = knobs["assertion_issuer"]
        if knobs.get("status", "success") != "success":
            response.status = error_status_factory(("urn:oasis:names:tc:SAML:2.0:status:Requester", knobs["status"]))
        xml = self.sign(response, knobs.get("sign_assertion", True), knobs.get("sign_response", False),
                        knobs.get("algorithm", "sha256"))
        return base64.b64encode(xml.encode()).decode()


def page(title, body):
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head>"
            f"<body>{body}</body></html>").encode()


def handler_for(idp):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            sys.stderr.write("idp: " + fmt % args + "\n")

        def send(self, status, body, content_type="text/html; charset=utf-8"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def form(self):
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length).decode()

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            if url.path == "/metadata":
                return self.send(200, idp.metadata().encode(), "application/samlmetadata+xml")
            if url.path == "/sso/redirect":
                try:
                    request = idp.server.parse_authn_request(query["SAMLRequest"][0], BINDING_HTTP_REDIRECT)
                    args = idp.server.response_args(request.message, [BINDING_HTTP_POST])
                except Exception as exc:  # noqa: BLE001 - any bad request is a 400 for a test IdP
                    return self.send(400, page("Bad request", f"<p>bad SAMLRequest: {html.escape(str(exc))}</p>"))
                token = secrets.token_hex(16)
                with idp.lock:
                    idp.pending[token] = (args, query.get("RelayState", [None])[0])
                body = (
                    "<h1>Sign in</h1><form method=\"post\" action=\"/login\">"
                    f"<input type=\"hidden\" name=\"token\" value=\"{token}\">"
                    "<label for=\"username\">Username</label> <input id=\"username\" name=\"username\"><br>"
                    "<label for=\"password\">Password</label> "
                    "<input id=\"password\" name=\"password\" type=\"password\"><br>"
                    "<button type=\"submit\">Sign in</button></form>"
                )
                return self.send(200, page("Sign in", body))
            return self.send(404, page("Not found", "<p>not found</p>"))

        def do_POST(self):
            path = urllib.parse.urlsplit(self.path).path
            if path == "/login":
                fields = {k: v[0] for k, v in urllib.parse.parse_qs(self.form()).items()}
                with idp.lock:
                    pending = idp.pending.get(fields.get("token", ""))
                user = idp.users.get(fields.get("username", ""))
                if pending is None:
                    return self.send(400, page("Bad request", "<p>unknown or used login</p>"))
                if user is None or not secrets.compare_digest(user["password"], fields.get("password", "")):
                    return self.send(401, page("Sign in failed", "<p>wrong username or password</p>"))
                with idp.lock:
                    idp.pending.pop(fields["token"], None)
                args, relay_state = pending
                saml_response = base64.b64encode(idp.login_response(args, user).encode()).decode()
                relay = (f"<input type=\"hidden\" name=\"RelayState\" value=\"{html.escape(relay_state)}\">"
                         if relay_state is not None else "")
                body = (
                    f"<form id=\"saml\" method=\"post\" action=\"{html.escape(args['destination'])}\">"
                    f"<input type=\"hidden\" name=\"SAMLResponse\" value=\"{saml_response}\">{relay}"
                    "<noscript><button type=\"submit\">Continue</button></noscript></form>"
                    "<script>document.getElementById('saml').submit()</script>"
                )
                return self.send(200, page("Signing in", body))
            if path == "/test/mint":
                try:
                    saml_response = idp.mint(json.loads(self.form()))
                except Exception as exc:  # noqa: BLE001 - report any knob error to the test
                    return self.send(400, json.dumps({"error": repr(exc)}).encode(), "application/json")
                return self.send(200, json.dumps({"SAMLResponse": saml_response}).encode(), "application/json")
            return self.send(404, page("Not found", "<p>not found</p>"))

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--entity-id", required=True)
    parser.add_argument("--sp-metadata", nargs="+", required=True)
    parser.add_argument("--users", required=True)
    parser.add_argument("--keydir", required=True)
    options = parser.parse_args()
    with open(options.users) as f:
        users = json.load(f)
    key, cert = ensure_key(options.keydir)
    httpd = ThreadingHTTPServer(("127.0.0.1", options.port), None)
    port = httpd.server_address[1]
    server, config = make_server(f"http://127.0.0.1:{port}", options.entity_id, options.sp_metadata, key, cert)
    httpd.RequestHandlerClass = handler_for(Idp(server, config, users))
    print(f"READY {port}", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


if __name__ == "__main__":
    main()
