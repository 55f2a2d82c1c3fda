"""Reads the emails an SMTP server kept (one .eml each) as a mail client would, and prints one
JSON object per email: its To and Message-ID, the links of its HTML part, and whether its DKIM
signature verifies (with --dkim-txt, the TXT record a DNS lookup of the selector would return).

Usage: read_emails.py DIR [--dkim-txt "v=DKIM1; k=rsa; p=…"]
"""
import argparse
import email
import email.policy
import json
import os
import re

p = argparse.ArgumentParser()
p.add_argument("dir")
p.add_argument("--dkim-txt")
args = p.parse_args()

for name in sorted(os.listdir(args.dir), key=lambda n: int(n.split(".")[0])):
    raw = open(os.path.join(args.dir, name), "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    html = msg.get_body(preferencelist=("html",)).get_content()
    text = msg.get_body(preferencelist=("plain",)).get_content()
    out = {
        "to": str(msg["To"]),
        "message_id": str(msg["Message-ID"]),
        "hrefs": re.findall(r'href="([^"]+)"', html),
        "text": text,
        "dkim": None,
    }
    if args.dkim_txt:
        import dkim

        txt = args.dkim_txt.encode()
        out["dkim"] = bool(dkim.verify(raw, dnsfunc=lambda _name, timeout=5: txt))
    print(json.dumps(out))
