"""scripts/run.sh: wait until the web server answers and the worker has said it is up (its first heartbeat
after ``--since``), so the URL and the credentials are printed after the start-up lines, not among them."""

import argparse
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project, for django.setup()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--since", type=float, required=True, help="the worker's start, seconds since the epoch")
    parser.add_argument("--timeout", type=float, default=60, help="for each of the two")
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            urllib.request.urlopen(args.url + "login/", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline:
                print("the web server did not start", file=sys.stderr)
                return 1
            time.sleep(0.5)

    import django

    django.setup()
    from labs.models import WorkerHeartbeat

    since = datetime.fromtimestamp(args.since, UTC)
    deadline = time.monotonic() + args.timeout
    while not WorkerHeartbeat.objects.filter(seen_at__gte=since).exists():
        if time.monotonic() > deadline:
            print("the Celery worker has not said it is up yet; lab submissions wait until it does", file=sys.stderr)
            return 0
        time.sleep(0.5)
    time.sleep(1)  # the worker's own "ready." line comes just before its first heartbeat
    return 0


if __name__ == "__main__":
    sys.exit(main())
