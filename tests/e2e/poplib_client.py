"""Drives a POP3 server with Python's poplib and prints what it saw as JSON.

usage: poplib_client.py PORT USER PASSWORD MODE
MODE "fetch": STAT, LIST, UIDL, RETR every message (hex), TOP 1 0, then QUIT.
MODE "delete": DELE every message given on stdin (space-separated), QUIT.
MODE "apop": log in with APOP instead of USER/PASS, STAT, QUIT.
"""
import binascii
import json
import poplib
import sys

port, user, password, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
pop = poplib.POP3("127.0.0.1", port, timeout=20)
out = {"welcome": pop.getwelcome().decode()}
if mode == "apop":
    out["login"] = pop.apop(user, password).decode()
else:
    pop.user(user)
    out["login"] = pop.pass_(password).decode()
out["stat"] = list(pop.stat())
if mode == "fetch":
    out["capa"] = sorted(pop.capa().keys())
    resp, listing, _ = pop.list()
    out["list"] = [line.decode() for line in listing]
    resp, uids, _ = pop.uidl()
    out["uidl"] = [line.decode() for line in uids]
    out["messages"] = []
    for n in range(1, out["stat"][0] + 1):
        resp, lines, octets = pop.retr(n)
        body = b"".join(line + b"\r\n" for line in lines)
        out["messages"].append({
            "resp": resp.decode(),
            "octets": octets,
            "hex": binascii.hexlify(body).decode(),
        })
    if out["stat"][0] > 0:
        resp, lines, _ = pop.top(1, 0)
        out["top"] = [line.decode("latin-1") for line in lines]
elif mode == "delete":
    for n in sys.stdin.read().split():
        out.setdefault("dele", []).append(pop.dele(int(n)).decode())
out["quit"] = pop.quit().decode()
print(json.dumps(out))
