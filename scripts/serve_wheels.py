"""Runs a command (an offline ``docker build --network host``) while a folder of wheels is served on
127.0.0.1 at a free port, the command seeing that address as WHEELS_URL (``--build-arg WHEELS_URL``
passes it on), and exits with the command's status. pip in the build reads it with ``--no-index
--find-links``, so the wheels never enter the build context or an image layer (a COPY of them would, and
copying the installed venv out of a build stage instead costs about 20 s of CPU per image).
Usage: python3 scripts/serve_wheels.py FOLDER COMMAND [ARG...]"""

import functools
import http.server
import os
import subprocess
import sys
import threading


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args) -> None:
        pass


def main() -> int:
    if len(sys.argv) < 3:
        sys.exit(__doc__.rsplit("\n", 1)[-1])
    folder, command = sys.argv[1], sys.argv[2:]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        return subprocess.run(command, env={**os.environ, "WHEELS_URL": url}).returncode
    finally:
        server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
