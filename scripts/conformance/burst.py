#!/usr/bin/env python3
"""A burst of requests for scripts/spin-conformance.sh (python3 standard library only).

    burst.py --app 127.0.0.1:PORT --host acme.localhost:3000 --path /api/tasks -n 160

Sends N GETs back to back on one keep-alive connection (reconnecting when the server closes
it) and prints one JSON object: {"counts": {"200": n, "429": m, ...}, "first": {status: {"headers":
{lower-case name: value}, "body": text}}}, the first answer of each status with its headers.
"""

import argparse
import http.client
import json


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("-n", type=int, default=160)
    args = ap.parse_args()
    host, _, port = args.app.rpartition(":")
    counts, first, conn = {}, {}, None
    for _ in range(args.n):
        for attempt in (1, 2):
            if conn is None:
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
            try:
                conn.request("GET", args.path, headers={"Host": args.host, "Accept": "application/json"})
                res = conn.getresponse()
                body = res.read().decode("utf-8", "replace")
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                conn = None
                if attempt == 2:
                    raise
        status = str(res.status)
        counts[status] = counts.get(status, 0) + 1
        if status not in first:
            first[status] = {"headers": {k.lower(): v for k, v in res.getheaders()}, "body": body[:2000]}
        if res.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = None
    print(json.dumps({"counts": counts, "first": first}))


if __name__ == "__main__":
    main()
