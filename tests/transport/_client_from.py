# POP3 and LMTP clients that connect from a chosen source address (the
# HAProxy tests bind 127.0.0.2, so the client's address differs from the
# proxy's). Reads a JSON request from argv[1], prints a JSON result.
import base64, json, poplib, smtplib, socket, sys, time

req = json.loads(sys.argv[1])
src = (req.get("source", "127.0.0.2"), 0)
out = {}

class Pop3From(poplib.POP3):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=src)

if req["op"] == "pop3":
    try:
        t0 = time.monotonic()
        p = Pop3From("127.0.0.1", req["port"], timeout=30)
        out["greeting"] = p.getwelcome().decode()
        out["greetingMs"] = round((time.monotonic() - t0) * 1000)
        p.user(req["user"])
        try:
            out["pass"] = p.pass_(req["password"]).decode()
            out["passMs"] = round((time.monotonic() - t0) * 1000)
        except poplib.error_proto as e:
            out["pass"] = e.args[0].decode()
            p.quit()
            print(json.dumps(out))
            sys.exit(0)
        if req.get("hold"):
            print(json.dumps({"holding": True}), flush=True)
            time.sleep(req["hold"])
        count, _ = p.stat()
        out["messages"] = []
        for n in range(1, count + 1):
            _, lines, _ = p.retr(n)
            out["messages"].append(base64.b64encode(b"".join(l + b"\r\n" for l in lines)).decode())
            if req.get("dele"):
                p.dele(n)
        out["retrMs"] = round((time.monotonic() - t0) * 1000)
        out["quit"] = p.quit().decode()
        out["quitMs"] = round((time.monotonic() - t0) * 1000)
    except Exception as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
elif req["op"] == "lmtp":
    s = smtplib.LMTP("127.0.0.1", req["port"], source_address=src)
    out["refused"] = {k: v[0] for k, v in s.sendmail(req["from"], req["to"], base64.b64decode(req["message"])).items()}
    s.quit()
print(json.dumps(out), flush=True)
