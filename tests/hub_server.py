#!/usr/bin/env python3
"""A tiny stand-in for the Hugging Face Hub HTTP API, for tests/test_pull.c.

usage: hub_server.py ROOT PORTFILE LOGFILE [--mode normal|cut|corrupt|norange]

Serves every folder ROOT/<org>/<name> as repository <org>/<name>:
  GET /api/models/<org>/<name>/tree/main?recursive=true   file listing; files
      ending in .safetensors are listed as LFS files with lfs.oid = sha256
  GET /<org>/<name>/resolve/main/<path>   the file, honouring "Range: bytes=N-"
      (206) unless --mode norange; --mode cut sends only the first half of a
      .safetensors file on the first request for it and then drops the
      connection; --mode corrupt flips one byte of every .safetensors file.
Binds 127.0.0.1 on a free port and writes the port number to PORTFILE. Logs
one line per request to LOGFILE: "<method> <path> range=<Range header>".
Never touches the network beyond the loopback interface.
"""
import hashlib, http.server, json, os, sys, threading

root, portfile, logfile = sys.argv[1], sys.argv[2], sys.argv[3]
mode = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--mode" else "normal"
cut_done = set()
lock = threading.Lock()

def listing(repo_dir):
    out = []
    for dp, dns, fns in os.walk(repo_dir):
        dns.sort()
        rel = os.path.relpath(dp, repo_dir)
        if rel != ".":
            out.append({"type": "directory", "path": rel, "oid": "0" * 40, "size": 0})
        for f in sorted(fns):
            p = os.path.join(dp, f)
            path = f if rel == "." else rel + "/" + f
            data = open(p, "rb").read()
            e = {"type": "file", "path": path, "size": len(data),
                 "oid": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}
            if f.endswith(".safetensors"):
                e["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            out.append(e)
    return out

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body, ctype="application/octet-stream", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock, open(logfile, "a") as lf:
            lf.write("GET %s range=%s\n" % (self.path, self.headers.get("Range", "")))
        parts = self.path.split("?")[0].split("/")
        if len(parts) >= 7 and parts[1:3] == ["api", "models"] and parts[5] == "tree":
            d = os.path.join(root, parts[3], parts[4])
            if not os.path.isdir(d):
                return self.send(404, b'{"error":"Repository not found"}', "application/json")
            return self.send(200, json.dumps(listing(d)).encode(), "application/json")
        if len(parts) >= 6 and parts[3] == "resolve":
            rel = "/".join(parts[5:])
            p = os.path.join(root, parts[1], parts[2], rel)
            if ".." in rel or not os.path.isfile(p):
                return self.send(404, b"not found")
            data = open(p, "rb").read()
            if mode == "corrupt" and rel.endswith(".safetensors"):
                data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
            rng = self.headers.get("Range", "")
            if mode == "cut" and rel.endswith(".safetensors") and rel not in cut_done:
                cut_done.add(rel)
                half = len(data) // 2
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:half])
                self.wfile.flush()
                self.close_connection = True
                return
            if rng.startswith("bytes=") and mode != "norange":
                start = int(rng[6:].split("-")[0])
                if start >= len(data):
                    return self.send(416, b"")
                return self.send(206, data[start:], extra=[
                    ("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))])
            return self.send(200, data)
        self.send(404, b"not found")

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
