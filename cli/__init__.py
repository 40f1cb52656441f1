"""``quantprep``: the learner's terminal client (docs/cli.md). Talks to the server's ``/api/`` with a
bearer token; needs only httpx, never Django."""
