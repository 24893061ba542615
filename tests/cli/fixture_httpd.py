#!/usr/bin/env python3
"""Static fixture feed server for the serve end-to-end tests.

usage: fixture_httpd.py DIR

Binds 127.0.0.1 on a free port, prints "port N" on stdout (flushed) and
serves the files of DIR. A path under /slow/ serves the same file slowly
(20 chunks, 0.1 s apart), so a test can kill tastebud in the middle of an
ingestion. Exits when killed.
"""
import http.server
import os
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        slow = path.startswith("/slow/")
        if slow:
            path = path[len("/slow"):]
        name = os.path.normpath(path).lstrip("/")
        full = os.path.join(self.server.root, name)
        if ".." in name or not os.path.isfile(full):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(full, "rb") as f:
            body = f.read()
        ctype = "text/x-opml" if name.endswith(".opml") else "application/rss+xml; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not slow:
            self.wfile.write(body)
            return
        step = len(body) // 20 + 1
        for i in range(0, len(body), step):
            self.wfile.write(body[i:i + step])
            self.wfile.flush()
            time.sleep(0.1)


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.root = os.path.abspath(sys.argv[1])
    print(f"port {srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
