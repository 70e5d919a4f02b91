#!/usr/bin/env python3
"""A minimal browser for scripts/spin-conformance.sh (python3 standard library only).

    browser.py --app 127.0.0.1:PORT [--user U --password P] [--expect-path /admin]
               [--cookie HOST NAME=VALUE]... [--method POST --form k=v...] [--header 'K: V']... URL

Requests URL and acts as a person with a browser would until it lands on a page of the app
whose path is --expect-path: it follows redirects (301/302/303 as GET, 307/308 keeping the
method and body), keeps cookies per host name, and on an HTML page
  - fills and submits a login form (one with a password field; the OIDC IdP's
    `data-form="login"`, the SAML IdP's form) with --user / --password, once per page origin,
  - submits the OIDC IdP's consent form (`data-form="consent"`),
  - submits a form made only of hidden fields (the SAML IdP's auto-posting form to the ACS),
  - follows the tenant login page's button (`<a id="sso-start">`),
sending `Origin` with every form post, as a browser does. Any URL whose host is `localhost`
or ends in `.localhost` is served by --app (whatever its port: the demo's origins are
http://<slug>.localhost:3000); other hosts (the IdPs on 127.0.0.1) are connected to directly.

Prints one JSON object: {"url", "status", "cookies": {host: {name: value}}, "trail": [...],
"body"} and exits 0 when it landed on --expect-path with a 2xx answer (or, without
--expect-path, on the first answer that is not a redirect and has nothing to submit); else
prints the same object with "error" and exits 1.
"""

import argparse
import http.client
import json
import sys
import urllib.parse
from html.parser import HTMLParser

MAX_STEPS = 25


class Forms(HTMLParser):
    """The page's forms (action, method, attributes, inputs) and `<a id=...>` links."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms, self.links, self.alerts = [], {}, []
        self._form, self._alert = None, False

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").lower(),
                          "attrs": a, "inputs": []}
            self.forms.append(self._form)
        elif tag in ("input", "textarea", "select") and self._form is not None:
            self._form["inputs"].append({"name": a.get("name"), "type": a.get("type", "text").lower(),
                                         "value": a.get("value", "")})
        elif tag == "a" and a.get("id"):
            self.links[a["id"]] = a.get("href", "")
        if a.get("role") == "alert":
            self._alert = True

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None

    def handle_data(self, data):
        if self._alert and data.strip():
            self.alerts.append(data.strip())
            self._alert = False


class Browser:
    def __init__(self, app):
        host, _, port = app.rpartition(":")
        self.app = (host, int(port))
        self.cookies = {}  # host name -> {name: value}

    def is_app(self, hostname):
        return hostname == "localhost" or hostname.endswith(".localhost")

    def send(self, method, url, body=None, headers=None):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http":
            raise ValueError(f"only http URLs are followed: {url}")
        target = self.app if self.is_app(u.hostname) else (u.hostname, u.port or 80)
        conn = http.client.HTTPConnection(*target, timeout=30)
        h = {"Host": u.netloc, "User-Agent": "tenantgate-conformance/1", "Accept": "text/html,*/*"}
        jar = self.cookies.get(u.hostname, {})
        if jar:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        if body is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        h.update(headers or {})
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        try:
            conn.request(method, path, body=body, headers=h)
            res = conn.getresponse()
            data = res.read()
        finally:
            conn.close()
        for value in res.msg.get_all("Set-Cookie") or []:
            self.set_cookie(u.hostname, value)
        return res.status, res.msg, data.decode("utf-8", "replace")

    def set_cookie(self, hostname, header):
        parts = [p.strip() for p in header.split(";")]
        name, _, value = parts[0].partition("=")
        attrs = {k.strip().lower(): v for k, _, v in (p.partition("=") for p in parts[1:])}
        jar = self.cookies.setdefault(hostname, {})
        if attrs.get("max-age", "1").strip() in ("0", "-1") or (value == "" and "expires" in attrs):
            jar.pop(name, None)
        else:
            jar[name] = value


def origin(url):
    u = urllib.parse.urlsplit(url)
    return f"{u.scheme}://{u.netloc}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app", required=True, help="host:port serving every *.localhost origin")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--expect-path")
    ap.add_argument("--cookie", nargs=2, action="append", default=[], metavar=("HOST", "NAME=VALUE"))
    ap.add_argument("--method", default="GET")
    ap.add_argument("--form", action="append", default=[], metavar="K=V")
    ap.add_argument("--header", action="append", default=[], metavar="'K: V'")
    ap.add_argument("url")
    args = ap.parse_args()

    b = Browser(args.app)
    for host, pair in args.cookie:
        name, _, value = pair.partition("=")
        b.cookies.setdefault(host.split(":")[0], {})[name] = value
    headers = dict((k.strip(), v.strip()) for k, _, v in (h.partition(":") for h in args.header))
    method, url = args.method.upper(), args.url
    body = urllib.parse.urlencode([tuple(f.split("=", 1)) for f in args.form]) if args.form else None
    trail, posted_login = [], set()
    result = {"url": url, "status": 0, "trail": trail}

    def finish(error=None):
        result["cookies"] = b.cookies
        if error:
            result["error"] = error
        print(json.dumps(result))
        sys.exit(1 if error else 0)

    for _ in range(MAX_STEPS):
        result["url"] = url
        try:
            status, msg, text = b.send(method, url, body, headers)
        except Exception as exc:  # noqa: BLE001 - any transport failure ends the walk
            finish(f"{method} {url}: {exc}")
        trail.append(f"{method} {url} -> {status}")
        result.update(url=url, status=status, body=text[:4000])
        headers = {}
        if status in (301, 302, 303, 307, 308):
            location = msg.get("Location")
            if not location:
                finish(f"{status} without Location")
            url = urllib.parse.urljoin(url, location)
            if status in (301, 302, 303):
                method, body = "GET", None
            continue
        u = urllib.parse.urlsplit(url)
        if args.expect_path and b.is_app(u.hostname) and u.path == args.expect_path:
            finish(None if 200 <= status < 300 else f"landed on {args.expect_path} with {status}")
        page = Forms()
        if "html" in (msg.get("Content-Type") or ""):
            page.feed(text)
        if page.alerts:
            finish(f"the page says: {' '.join(page.alerts)}")
        login = next((f for f in page.forms if any(i["type"] == "password" for i in f["inputs"])), None)
        consent = next((f for f in page.forms if f["attrs"].get("data-form") == "consent"), None)
        auto = next((f for f in page.forms if f["inputs"]
                     and all(i["type"] == "hidden" for i in f["inputs"] if i["name"])), None)
        form, fields = None, []
        if login is not None:
            if origin(url) in posted_login:
                finish("the login form came back (wrong username or password?)")
            if args.user is None:
                finish("a login form, and no --user")
            posted_login.add(origin(url))
            for i in login["inputs"]:
                if not i["name"]:
                    continue
                if i["type"] == "password":
                    fields.append((i["name"], args.password or ""))
                elif i["type"] in ("text", "email") or i["name"] == "username":
                    fields.append((i["name"], args.user))
                else:
                    fields.append((i["name"], i["value"]))
            form = login
        elif consent is not None:
            form = consent
            fields = [(i["name"], i["value"]) for i in consent["inputs"] if i["name"]]
        elif auto is not None:
            form = auto
            fields = [(i["name"], i["value"]) for i in auto["inputs"] if i["name"]]
        elif "sso-start" in page.links:
            method, url, body = "GET", urllib.parse.urljoin(url, page.links["sso-start"]), None
            continue
        else:
            if args.expect_path:
                finish(f"stopped at {u.path} ({status}), expected {args.expect_path}")
            finish(None if status < 400 else f"answered {status}")
        action = urllib.parse.urljoin(url, form["action"] or url)
        headers = {"Origin": origin(url)}
        if form["method"] == "post":
            method, body = "POST", urllib.parse.urlencode(fields)
            url = action
        else:
            sep = "&" if urllib.parse.urlsplit(action).query else "?"
            method, body, url = "GET", None, action + sep + urllib.parse.urlencode(fields)
    finish(f"more than {MAX_STEPS} steps")


if __name__ == "__main__":
    main()
