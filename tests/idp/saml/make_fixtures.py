#!/usr/bin/env python3
"""Mints the SAML responses that libs/saml's tests verify, with the real pysaml2 IdP (idp.py) signing them.

    python3 tests/idp/saml/make_fixtures.py        # writes libs/saml/tests/fixtures/

Starts two IdPs on loopback: the trusted one (its certificate is committed as idp.crt) and an attacker's with
the same entity ID but its own key (attacker.crt), then POSTs /test/mint once per case. Every time is fixed
relative to NOW so the Rust tests pass a fixed `now`. Re-running changes IDs and signatures, not the cases.
Keys are made in a temporary directory and never committed.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
OUT = os.path.join(ROOT, "libs", "saml", "tests", "fixtures")

# Keep in step with libs/saml/tests/common/mod.rs. SP_METADATA is what tenantgate_saml::sp_metadata writes for
# SP/ACS (a test compares it with the copy written to fixtures/sp-metadata.xml).
NOW = 1796101200  # 2026-12-01T05:00:00Z
SP = "https://acme.tenantgate.test/saml/metadata"
ACS = "https://acme.tenantgate.test/saml/acs"
IDP = "https://idp.tenantgate.test/saml"
REQUEST_ID = "_0123456789abcdef0123456789abcdef"

SP_METADATA = f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{SP}"><md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{ACS}" index="0" isDefault="true"/></md:SPSSODescriptor></md:EntityDescriptor>
"""
USERS = [
    {"username": "alice", "password": "alice-pw", "name_id": "alice@example.com", "email": "alice@example.com",
     "name": "Alice Example"},
    {"username": "bob", "password": "bob-pw", "name_id": "bob-0001", "email": "bob@example.com", "name": "Bob"},
]

BASE = {"sp": SP, "acs": ACS, "user": "alice", "in_response_to": REQUEST_ID, "now": NOW}
CASES = {
    "valid": {},
    "valid_both_signed": {"sign_response": True},
    "valid_sha512": {"algorithm": "sha512"},
    "valid_unspecified_name_id": {"user": "bob"},
    "no_destination": {"destination": None},
    "short_confirmation": {"confirmation_not_on_or_after": 60},
    "unsolicited": {"in_response_to": None},
    "confirmation_without_in_response_to": {"confirmation_in_response_to": None},
    "confirmation_without_in_response_to_both_signed": {"confirmation_in_response_to": None, "sign_response": True},
    "response_signed_only": {"sign_assertion": False, "sign_response": True},
    "unsigned": {"sign_assertion": False},
    "sha1": {"algorithm": "sha1"},
    "wrong_audience": {"audience": "https://other.tenantgate.test/saml/metadata"},
    "wrong_recipient": {"recipient": "https://other.tenantgate.test/saml/acs"},
    "wrong_destination": {"destination": "https://other.tenantgate.test/saml/acs"},
    "wrong_issuer": {"issuer": "https://evil.tenantgate.test/saml"},
    "wrong_assertion_issuer": {"assertion_issuer": "https://evil.tenantgate.test/saml"},
    "status_failure": {"status": "denied"},
    "not_yet_valid": {"not_before": 600},
    "conditions_expired": {"not_on_or_after": -120},
    "name_id_evil": {"name_id": "alice@example.com.evil.com"},
}
ATTACKER_CASES = {"attacker_signed": {}}
# Shapes other IdPs send (default namespaces, an InclusiveNamespaces PrefixList, pretty-printing, fractional
# seconds), signed by xmlsec1 directly with the trusted IdP's key.
TEMPLATES = ["okta_style", "adfs_style"]


def sign_template(name, keydir, work):
    with open(os.path.join(HERE, "templates", name + ".xml")) as f:
        xml = f.read()
    for key, value in {"{ACS}": ACS, "{SP}": SP, "{IDP}": IDP, "{REQUEST_ID}": REQUEST_ID}.items():
        xml = xml.replace(key, value)
    unsigned, signed = os.path.join(work, name + ".xml"), os.path.join(work, name + ".signed.xml")
    with open(unsigned, "w") as f:
        f.write(xml)
    subprocess.run(
        ["xmlsec1", "--sign", "--privkey-pem", f"{keydir}/idp.key,{keydir}/idp.crt",
         "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", "--output", signed, unsigned],
        check=True)
    with open(signed, "rb") as f:
        return base64.b64encode(f.read()).decode()


def start_idp(keydir, sp_metadata, users):
    process = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "idp.py"), "--port", "0", "--entity-id", IDP,
         "--sp-metadata", sp_metadata, "--users", users, "--keydir", keydir],
        stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline().split()
    if len(line) != 2 or line[0] != "READY":
        process.kill()
        raise SystemExit(f"idp did not start: {line}")
    return process, f"http://127.0.0.1:{line[1]}"


def mint(base_url, knobs):
    body = json.dumps({**BASE, **knobs}).encode()
    request = urllib.request.Request(base_url + "/test/mint", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["SAMLResponse"]


def main():
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="saml-fixtures-")
    processes = []
    try:
        sp_metadata = os.path.join(work, "sp.xml")
        users = os.path.join(work, "users.json")
        with open(sp_metadata, "w") as f:
            f.write(SP_METADATA)
        with open(users, "w") as f:
            json.dump(USERS, f)
        trusted, trusted_url = start_idp(os.path.join(work, "trusted"), sp_metadata, users)
        processes.append(trusted)
        attacker, attacker_url = start_idp(os.path.join(work, "attacker"), sp_metadata, users)
        processes.append(attacker)
        for name, knobs in CASES.items():
            with open(os.path.join(OUT, name + ".b64"), "w") as f:
                f.write(mint(trusted_url, knobs) + "\n")
        for name, knobs in ATTACKER_CASES.items():
            with open(os.path.join(OUT, name + ".b64"), "w") as f:
                f.write(mint(attacker_url, knobs) + "\n")
        for name in TEMPLATES:
            with open(os.path.join(OUT, name + ".b64"), "w") as f:
                f.write(sign_template(name, os.path.join(work, "trusted"), work) + "\n")
        with urllib.request.urlopen(trusted_url + "/metadata", timeout=30) as response:
            metadata = response.read().decode()
        with open(os.path.join(OUT, "idp-metadata.xml"), "w") as f:
            f.write(metadata)
        shutil.copy(sp_metadata, os.path.join(OUT, "sp-metadata.xml"))
        shutil.copy(os.path.join(work, "trusted", "idp.crt"), os.path.join(OUT, "idp.crt"))
        shutil.copy(os.path.join(work, "attacker", "idp.crt"), os.path.join(OUT, "attacker.crt"))
        print(f"wrote {len(CASES) + len(ATTACKER_CASES) + len(TEMPLATES)} responses, idp.crt, attacker.crt, idp-metadata.xml, sp-metadata.xml to {OUT}")
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
