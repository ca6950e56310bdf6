#!/usr/bin/env python3
"""exchange_interop.py — a second, independent implementation of the
formats in docs/exchange.md (Python's hashlib and the `cryptography`
package, no kervan code), run against kervan's documented examples and
against the kervan program.

  python3 exchange_interop.py KERVAN_BINARY SOURCE_DIR [--write]

1. Checks tests/golden/exchange/: every fingerprint of trust.json, the
   envelope.json / envelope.header signature and rules, and export.json's
   whole chain v2 (link0, every origin record and its signature by the
   node where the event happened, every record, link and the owner's
   signature over it).
2. Builds an export of its own (different JSON layout and escaping, a
   non-ASCII event, an event of another node ordered by the owner) and has
   `kervan audit verify` accept it, then reject a tampered copy at the right
   event, an event ordered by a node that is not the owner, and a v1 file.
3. Makes an envelope laid out differently from kervan's encoder
   (envelope-other.json/.header, verified by tests/codec/test_envelope.c);
   --write rewrites those two files, otherwise they must match.
Exit 0 on success, 1 on a mismatch, 77 when `cryptography` is missing.
"""
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey, Ed25519PublicKey)
except ImportError:
    print("python3 cryptography package not found: skipping")
    sys.exit(77)


def H(b):
    return hashlib.blake2b(b, digest_size=32).digest()


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    assert re.fullmatch(r"[A-Za-z0-9_-]*", s), s
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def fingerprint(pk):
    h = H(pk)[:16].hex()
    return ":".join(h[i:i + 4] for i in range(0, 32, 4))


def example_key(label):
    seed = H(("kervan example key " + label).encode())
    return Ed25519PrivateKey.from_private_bytes(seed)


def raw_pk(sk):
    return sk.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)


def instant(text):
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def load_trust(obj):
    keys = {}
    for n in obj["nodes"]:
        for k in n["keys"]:
            pk = unb64u(k["key"])
            assert len(pk) == 32
            fp = fingerprint(pk)
            if "fingerprint" in k:
                assert k["fingerprint"] == fp, (k["fingerprint"], fp)
            until = k.get("until")
            keys[(n["country"], fp)] = (pk, instant(k["from"]),
                                        instant(until) if until else None)
    return keys


def key_for(keys, country, fp, at, later_ok=False):
    """The key, valid at `at`; with later_ok also one that came into force
    after `at` (the owner orders an event after it happened)."""
    pk, start, end = keys[(country, fp)]
    assert (later_ok or start <= at) and (end is None or at < end), "key not valid then"
    return Ed25519PublicKey.from_public_bytes(pk)


FROM_OWNER = {"CD001C", "CD050C", "CD181C", "CC045C", "CD010C", "CD003C", "CD115C"}


def verify_envelope(keys, me, body, header):
    m = re.fullmatch(r"[ \t]*keyid=((?:[0-9a-f]{4}:){7}[0-9a-f]{4}), sig=([A-Za-z0-9_-]{86})[ \t]*",
                     header)
    assert m, header
    env = json.loads(body)
    assert set(env) == {"v", "sender", "receiver", "id", "kind", "mrn", "seq", "time", "body"}
    assert env["v"] == 1 and env["receiver"] == me and re.fullmatch(r"[0-9a-f]{32}", env["id"])
    pub = key_for(keys, env["sender"], m.group(1), instant(env["time"]))
    pub.verify(unb64u(m.group(2)), body)          # over the exact bytes
    if env["kind"] in FROM_OWNER:
        assert env["sender"] == env["mrn"][2:4]
    return env


def record(mrn, seq, node, time, event):
    return ("kervan-event-v1\n%s\n%d\n%s\n%s\n" % (mrn, seq, node, time)).encode() + event


def origin(mrn, node, time, event):
    return ("kervan-origin-v1\n%s\n%s\n%s\n" % (mrn, node, time)).encode() + event


def verify_export(ex, keys):
    """Chain v2: each event signed where it happened (over its origin
    digest) and ordered by the owner, the MRN's country (over its link)."""
    assert ex["format"] == "kervan-chain-export" and ex["v"] == 2
    owner = ex["mrn"][2:4]
    link = bytes.fromhex(ex["link0"])
    if "declaration" in ex:
        assert H(ex["declaration"].encode()) == link, "declaration"
    for i, e in enumerate(ex["events"]):
        assert set(e) == {"seq", "node", "time", "keyid", "sig", "link", "order_keyid",
                          "order_sig", "event"}, e.keys()
        assert e["seq"] == i + 1, "order"
        ev = e["event"].encode()
        assert json.loads(ev)["time"] == e["time"]
        at = instant(e["time"])
        o = H(origin(ex["mrn"], e["node"], e["time"], ev))
        key_for(keys, e["node"], e["keyid"], at).verify(unb64u(e["sig"]), o)
        link = H(link + record(ex["mrn"], e["seq"], e["node"], e["time"], ev))
        assert link.hex() == e["link"], "link %d" % (i + 1)
        key_for(keys, owner, e["order_keyid"], at, later_ok=True).verify(
            unb64u(e["order_sig"]), link)
    return link


def main():
    kervan, src = sys.argv[1], sys.argv[2]
    write = "--write" in sys.argv
    g = os.path.join(src, "tests", "golden", "exchange")
    keys = load_trust(json.load(open(os.path.join(g, "trust.json"))))
    assert len(keys) == 4

    # 1. kervan's examples, checked here
    body = open(os.path.join(g, "envelope.json"), "rb").read()
    hdr = open(os.path.join(g, "envelope.header")).read()
    assert hdr.startswith("Kervan-Signature: ") and hdr.endswith("\n")
    env = verify_envelope(keys, "AZ", body, hdr[len("Kervan-Signature: "):-1])
    assert env["kind"] == "CD050C"
    try:
        verify_envelope(keys, "AZ", body.replace(b"GE000500", b"GE000501"),
                        hdr[len("Kervan-Signature: "):-1])
        raise AssertionError("a changed envelope verified")
    except InvalidSignature:
        pass
    ex = json.load(open(os.path.join(g, "export.json")))
    verify_export(ex, keys)
    print("interop: kervan's envelope and export verify here")

    # 2. an export made here, verified by kervan
    mrn = "25AZ0002000000B1J4"
    decl = '{"lrn":"AZBAK2025000777","goods":"Çay, 120 kisə"}'
    link = H(decl.encode())
    mine = {"v": 2, "format": "kervan-chain-export", "mrn": mrn, "declaration": decl,
            "link0": link.hex(), "events": []}
    evs = [("AZ", '{"type":"lodged","time":"2025-04-01T09:00:00+04:00","office":"AZ000100",'
                  '"actor":{"role":"node","id":"AZ"}}'),
           ("AZ", '{"type":"release","time":"2025-04-01T10:00:00+04:00","office":"AZ000100",'
                  '"controlResult":"A1","seals":[]}'),
           ("GE", '{"type":"incident","time":"2025-04-02T08:00:00+04:00","office":"GE000500",'
                  '"code":"5","text":"Gəncə yolunda təkər partladı \\"x\\"","place":"Qazax",'
                  '"sealsState":"intact"}')]
    for i, (node, text) in enumerate(evs):
        ev = text.encode()
        t = json.loads(ev)["time"]
        sig = example_key(node).sign(H(origin(mrn, node, t, ev)))  # where it happened
        link = H(link + record(mrn, i + 1, node, t, ev))
        order_sig = example_key("AZ").sign(link)                    # the owner orders it
        mine["events"].append({"event": text, "order_sig": b64u(order_sig),
                               "order_keyid": fingerprint(raw_pk(example_key("AZ"))),
                               "sig": b64u(sig), "link": link.hex(),
                               "keyid": fingerprint(raw_pk(example_key(node))),
                               "time": t, "node": node, "seq": i + 1})
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "mine.json")
        json.dump(mine, open(p, "w"), ensure_ascii=True)  # \\u escapes, other order
        r = subprocess.run([kervan, "audit", "verify", "--file", p, "--trust",
                            os.path.join(g, "trust.json"), "--json"], capture_output=True)
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout)["last_link"] == link.hex()
        mine["events"][2]["event"] = mine["events"][2]["event"].replace("Qazax", "Qazakh")
        json.dump(mine, open(p, "w"), ensure_ascii=False, indent=3)
        r = subprocess.run([kervan, "audit", "verify", "--file", p, "--trust",
                            os.path.join(g, "trust.json"), "--json"], capture_output=True)
        out = json.loads(r.stdout)
        assert r.returncode == 1 and out["first_break"] == 3, r.stdout
        assert [x["rule"] + " " + x["pointer"] for x in out["problems"]] == \
            ["R-CHAIN-LINK /events/2/link", "R-CHAIN-SIG /events/2/sig"], out
        # GE ordering its own event (as chain v1 had it) is not the owner's order
        mine["events"][2]["event"] = mine["events"][2]["event"].replace("Qazakh", "Qazax")
        mine["events"][2]["order_keyid"] = fingerprint(raw_pk(example_key("GE")))
        mine["events"][2]["order_sig"] = b64u(example_key("GE").sign(link))
        json.dump(mine, open(p, "w"))
        r = subprocess.run([kervan, "audit", "verify", "--file", p, "--trust",
                            os.path.join(g, "trust.json"), "--json"], capture_output=True)
        out = json.loads(r.stdout)
        assert r.returncode == 1 and out["first_break"] == 3, r.stdout
        assert [x["rule"] + " " + x["pointer"] for x in out["problems"]] == \
            ["R-CHAIN-ORDKEY /events/2/order_keyid"], out
        # a version 1 export is refused as such
        mine["v"] = 1
        json.dump(mine, open(p, "w"))
        r = subprocess.run([kervan, "audit", "verify", "--file", p], capture_output=True)
        assert r.returncode == 1 and b"R-EXP-004 /v: a version 1 export" in r.stderr, r.stderr
    print("interop: an export made here verifies in kervan; a change is found at event 3")

    # 3. an envelope laid out differently, for tests/codec/test_envelope.c
    other = ('{\n  "body": {"office": "GE000500",  "note": "Tbilisi \\u2192 Kars",'
             ' "nested": {"body": [1, 2.50, "}"]}},\n  "seq": 3, "kind": "CD114C",'
             ' "time": "2025-03-03T09:00:00+04:00", "mrn": "25KZ0001000000A1J9",'
             ' "id": "00000000000000000000000000000abc", "receiver": "KZ",'
             ' "sender": "GE", "v": 1\n}\n').encode()
    sig = example_key("GE").sign(other)
    ohdr = "keyid=%s, sig=%s\n" % (fingerprint(raw_pk(example_key("GE"))), b64u(sig))
    verify_envelope(keys, "KZ", other, ohdr[:-1])
    for name, data in (("envelope-other.json", other), ("envelope-other.header", ohdr.encode())):
        path = os.path.join(g, name)
        if write:
            open(path, "wb").write(data)
        else:
            assert open(path, "rb").read() == data, name + " differs (run with --write)"
    print("interop: ok")


main()
