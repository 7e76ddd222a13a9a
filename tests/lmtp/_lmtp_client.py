# LMTP and POP3 driver for the Lmtpd tests: reads one JSON request from
# argv[1], prints one JSON result. Message bytes travel as base64.
import base64, json, poplib, smtplib, sys

req = json.loads(sys.argv[1])
out = {}
if req["op"] == "sendmail":
    # The standard path: sendmail() refuses unknown recipients at RCPT.
    s = smtplib.LMTP("127.0.0.1", req["port"])
    msg = base64.b64decode(req["message"])
    try:
        refused = s.sendmail(req["from"], req["to"], msg)
        out["refused"] = {k: [v[0], v[1].decode()] for k, v in refused.items()}
    except smtplib.SMTPRecipientsRefused as e:
        out["allRefused"] = {k: [v[0], v[1].decode()] for k, v in e.recipients.items()}
    s.quit()
elif req["op"] == "transaction":
    # One transaction by hand: every RCPT reply and, after DATA, one reply
    # per accepted recipient (RFC 2033 4.2).
    s = smtplib.LMTP("127.0.0.1", req["port"])
    s.ehlo()  # sends LHLO on an LMTP object
    out["esmtp"] = sorted(s.esmtp_features.keys())
    out["mail"] = s.mail(req["from"])[0]
    rcpt = [s.rcpt(r) for r in req["to"]]
    out["rcpt"] = [[c, m.decode()] for c, m in rcpt]
    accepted = sum(1 for c, _ in rcpt if c == 250)
    code, msg = s.data(base64.b64decode(req["message"]))
    data = [[code, msg.decode()]]
    for _ in range(accepted - 1):
        code, msg = s.getreply()
        data.append([code, msg.decode()])
    out["data"] = data
    out["quit"] = s.quit()[0]
elif req["op"] == "fetch":
    p = poplib.POP3("127.0.0.1", req["port"], timeout=30)
    p.user(req["user"])
    p.pass_(req["password"])
    count, _ = p.stat()
    out["messages"] = []
    out["sizes"] = [int(x.split()[1]) for x in p.list()[1]]
    for n in range(1, count + 1):
        _, lines, _ = p.retr(n)
        out["messages"].append(base64.b64encode(b"".join(l + b"\r\n" for l in lines)).decode())
    p.quit()
print(json.dumps(out))
