#!/usr/bin/env python3
"""A Helm chart repository on loopback for the tests: the files under ROOT (`index.yaml` and
chart archives, as `helm repo index` writes them) served over HTTP/1.1, optionally behind
basic auth — which is all a chart repository is.

Usage: chart-repo-server.py ROOT [USER:PASSWORD]
Prints the port on the first line of stdout once listening.
"""

import base64
import functools
import http.server
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet; failures show in tidegate's errors
        pass

    def do_GET(self):
        if self.server.credentials:
            expected = "Basic " + base64.b64encode(self.server.credentials.encode()).decode()
            if self.headers.get("Authorization", "") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="charts"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        super().do_GET()

    do_HEAD = do_GET


def main():
    root = sys.argv[1]
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=root)
    )
    server.credentials = sys.argv[2] if len(sys.argv) > 2 else None
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
