#!/usr/bin/env python3
"""A tiny HTTP server for the fetcher tests (tests/test_feed_fetch.c).

Binds 127.0.0.1 on an ephemeral port, prints the port on stdout, and serves
canned answers: conditional GET, gzip, redirect chains, a redirect to a
loopback spelling, a slow answer, an oversized body, errors, Retry-After.
It exits when its parent closes stdin (or is killed).
"""
import gzip
import http.server
import socketserver
import sys
import threading
import time

FEED = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Served feed</title><link>http://example.com/</link>
<ttl>30</ttl>
<item><title>Served one</title><link>http://example.com/1</link><guid>s1</guid>
<description>first</description></item>
<item><title>Served two</title><link>http://example.com/2</link><guid>s2</guid>
<description>second</description></item>
</channel></rss>
"""

PAGE = b"""<!doctype html><html><head><title>A blog</title>
<link rel="alternate" type="application/rss+xml" title="RSS" href="/feed.xml">
</head><body><p>hello</p></body></html>
"""

ETAG = '"v1"'
LASTMOD = "Tue, 03 Jun 2003 09:39:21 GMT"
HITS = {}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body=b"", ctype="application/rss+xml; charset=utf-8", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def redirect(self, where):
        self.send(302, b"", "text/plain", [("Location", where)])

    def do_GET(self):
        path = self.path
        HITS[path] = HITS.get(path, 0) + 1
        port = self.server.server_address[1]
        if path == "/feed.xml":
            if self.headers.get("If-None-Match") == ETAG:
                self.send(304, b"", headers=[("ETag", ETAG)])
            else:
                self.send(200, FEED, headers=[("ETag", ETAG), ("Last-Modified", LASTMOD)])
        elif path == "/gzip.xml":
            if "gzip" not in (self.headers.get("Accept-Encoding") or ""):
                self.send(406, b"gzip required", "text/plain")
            else:
                self.send(200, gzip.compress(FEED), headers=[("Content-Encoding", "gzip")])
        elif path.startswith("/redirect/"):
            n = int(path.rsplit("/", 1)[1])
            self.redirect("/feed.xml" if n <= 0 else "/redirect/%d" % (n - 1))
        elif path == "/to-loopback":
            self.redirect("http://127.0.0.1:%d/feed.xml" % port)
        elif path == "/to-ipv6-loopback":
            self.redirect("http://[::ffff:127.0.0.1]:%d/feed.xml" % port)
        elif path == "/to-file":
            self.redirect("file:///etc/passwd")
        elif path == "/slow":
            time.sleep(4)
            self.send(200, FEED)
        elif path == "/big":
            # no Content-Length: the cap must work on the streamed body
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b"<!-- " + b"x" * 65536 + b" -->\n"
            try:
                for _ in range(64):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
        elif path == "/404":
            self.send(404, b"not here", "text/plain")
        elif path == "/500":
            self.send(500, b"oops", "text/plain")
        elif path == "/retry":
            self.send(503, b"busy", "text/plain", [("Retry-After", "120")])
        elif path == "/ua":
            ua = (self.headers.get("User-Agent") or "").replace("&", "&amp;").replace("<", "&lt;")
            body = ("<rss version=\"2.0\"><channel><title>%s</title></channel></rss>" % ua).encode()
            self.send(200, body)
        elif path == "/page.html":
            self.send(200, PAGE, "text/html; charset=utf-8")
        elif path == "/latin1":
            body = FEED.replace(b"Served feed", "Caf\u00e9".encode("latin-1"))
            self.send(200, body, "application/xml; charset=ISO-8859-1")
        else:
            self.send(404, b"unknown", "text/plain")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    # stay up until the parent closes our stdin
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    srv.shutdown()


if __name__ == "__main__":
    main()
