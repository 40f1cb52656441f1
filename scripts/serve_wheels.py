"""Serves a folder of wheels on 127.0.0.1 at a free port for an offline ``docker build --network host``:
prints the port, then serves until killed. pip reads it with ``--no-index --find-links http://127.0.0.1:PORT/``,
so the wheels never enter the build context or an image layer (a COPY of them would, and copying the
installed venv out of a build stage instead costs about 20 s of CPU per image).
Usage: python3 scripts/serve_wheels.py FOLDER"""

import functools
import http.server
import sys


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args) -> None:
        pass


def main() -> None:
    handler = functools.partial(QuietHandler, directory=sys.argv[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
