"""``quantprep labs | submit LAB FILE | status ID``: the learner's terminal client (docs/cli.md).

Configuration, first found wins: ``--url`` / ``--token``; then ``QUANTPREP_URL`` / ``QUANTPREP_TOKEN``;
then, for the token, the file ``$XDG_CONFIG_HOME/quantprep/token`` (``~/.config/quantprep/token``); the URL
defaults to http://127.0.0.1:8000. The token is sent only over https, or over http to this machine, unless
``--allow-http`` (or ``QUANTPREP_ALLOW_HTTP=1``) says otherwise.

Exit codes: 0 the request succeeded (for ``submit``: the submission was graded, whatever the verdict);
1 the server could not be reached, refused the token or the request, or grading did not finish in time;
2 a usage error (bad arguments, a file that cannot be read); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import httpx

from cli.client import DEFAULT_URL, AuthError, Client, ClientError
from cli.progress import CASE, progress_fraction

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    pass


# --- configuration -------------------------------------------------------------------------------

def token_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "quantprep" / "token"


def resolve_url(flag: str | None) -> str:
    return (flag or os.environ.get("QUANTPREP_URL") or DEFAULT_URL).rstrip("/")


LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def check_transport(url: str, *, allow_http: bool) -> None:
    """The token travels in every request: never in clear text to another machine unless the user says so."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and (parts.hostname in LOCAL_HOSTS or allow_http)):
        return
    if parts.scheme == "http":
        raise UsageError(f"refusing to send your API token over plain http to {parts.hostname}: use https://, "
                         "or pass --allow-http (or set QUANTPREP_ALLOW_HTTP=1) on a network you trust")
    raise UsageError(f"the server URL must start with https:// (or http:// for this machine), not {url!r}")


def resolve_token(flag: str | None, *, err: TextIO) -> str:
    if flag:
        return flag.strip()
    if os.environ.get("QUANTPREP_TOKEN", "").strip():
        return os.environ["QUANTPREP_TOKEN"].strip()
    path = token_file()
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        token = ""
    except OSError as exc:
        raise AuthError(f"cannot read the token file {path}: {exc.strerror}") from exc
    if token:
        if os.name == "posix" and path.stat().st_mode & 0o077:
            print(f"quantprep: warning: {path} can be read by others; chmod 600 it.", file=err)
        return token
    raise AuthError("no API token: pass --token, set QUANTPREP_TOKEN, or put it in "
                    f"{path} (make one on your account page, /account/ on the site).")


# --- display -------------------------------------------------------------------------------------

class ProgressBar:
    """One redrawn line on a terminal; one line per change anywhere else (logs, CI)."""

    def __init__(self, stream: TextIO, width: int = 24):
        self.stream, self.width = stream, width
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.fraction, self.ran, self.last_label, self.drawn, self.timing_case = 0.0, False, None, 0, 0

    def update(self, submission: dict, elapsed: float) -> None:
        status, progress = submission.get("status", ""), submission.get("progress") or submission.get("status", "")
        match = CASE.search(progress) if progress.startswith("timing") else None
        if match:  # the count starting again means the submission's timings follow the reference's
            self.ran = self.ran or int(match.group(1)) < self.timing_case
            self.timing_case = int(match.group(1))
        self.ran = self.ran or progress.startswith("running")
        self.fraction = max(self.fraction, progress_fraction(status, progress, ran=self.ran))
        filled = round(self.fraction * self.width)
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {self.fraction:4.0%} {progress}"
        if self.tty:
            text = f"{line}  {elapsed:4.0f}s"
            self.stream.write("\r" + text.ljust(self.drawn))
            self.drawn = len(text)
        elif progress != self.last_label:
            self.stream.write(line + "\n")
        self.last_label = progress
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def first_line(text: str | None, limit: int = 100) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"


def verdict_words(verdict: str) -> str:
    """A verdict key in the web pages' words ("wrong_answer" -> "Wrong Answer", as labs' Verdict.label); --json
    keeps the key."""
    return verdict.replace("_", " ").title() or "none"


def render_submission(submission: dict) -> str:
    """The verdict table (or the state of a submission still being graded), as plain text."""
    head = f"submission {submission['id']} · {submission['lab']}"
    if submission.get("status") != "done":
        return f"{head}: {submission.get('status')} ({submission.get('progress') or 'waiting'})\n"
    result = submission.get("result") or {}
    lines = [head, f"verdict: {verdict_words(submission.get('verdict') or result.get('verdict') or '')}", ""]
    cases = result.get("cases") or []
    if cases:
        width = max(4, *(len(str(c.get("name", ""))) for c in cases))
        lines.append(f"{'case':<{width}}  {'result':<6}  message")
        lines.append(f"{'-' * width}  ------  -------")
        for case in cases:
            mark = "passed" if case.get("passed") else "FAILED"
            lines.append(f"{str(case.get('name', '')):<{width}}  {mark:<6}  {first_line(case.get('message'))}".rstrip())
        lines.append("")
    diagnostics = (result.get("diagnostics") or "").strip()
    if diagnostics:
        shown = diagnostics.splitlines()[:8]
        lines += [first_line(line, 200) for line in shown]
        if len(diagnostics.splitlines()) > len(shown):
            lines.append(f"… see {submission.get('web_url') or 'the submission page'} for the rest")
        lines.append("")
    if submission.get("verdict") == "accepted":  # a wrong answer's speed means nothing: it earns no speed points
        speed = result.get("speedup")
        lines.append(f"speedup: {speed:.2f}x over the reference" if isinstance(speed, int | float)
                     else "speedup: not measured, so no speed points")
    score = submission.get("score")
    lines.append(f"score: {score:g}" if isinstance(score, int | float) else "score: none")
    return "\n".join(lines) + "\n"


# --- commands ------------------------------------------------------------------------------------

def wait_for_grading(client: Client, submission_id: int, *, timeout: float, err: TextIO,
                     show_progress: bool = True) -> dict:
    bar = ProgressBar(err) if show_progress else None
    started, pause = time.monotonic(), 0.3
    try:
        while True:
            submission = client.submission(submission_id)
            if bar:
                bar.update(submission, time.monotonic() - started)
            if submission.get("status") == "done":
                return submission
            if time.monotonic() - started > timeout:
                raise ClientError(f"submission {submission_id} is still {submission.get('status')} after "
                                  f"{timeout:.0f} s; look again later with 'quantprep status {submission_id}'.")
            time.sleep(pause)
            pause = min(pause * 1.3, 2.0)
    finally:
        if bar:
            bar.close()


def cmd_labs(client: Client, args, out: TextIO, err: TextIO) -> int:
    labs = client.labs()
    if args.json:
        out.write(json.dumps(labs, indent=2) + "\n")
        return EXIT_OK
    if not labs:
        err.write("quantprep: the server has no labs yet.\n")
        return EXIT_OK
    width = max(len(lab["slug"]) for lab in labs)
    for lab in labs:
        out.write(f"{lab['slug']:<{width}}  {lab['title']}\n")
        if lab.get("summary"):
            out.write(f"{'':<{width}}  {first_line(lab['summary'], 110)}\n")
    return EXIT_OK


def cmd_submit(client: Client, args, out: TextIO, err: TextIO) -> int:
    try:
        code = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {args.file}: {getattr(exc, 'strerror', None) or exc}") from exc
    created = client.submit(args.lab, code)
    err.write(f"submitted {args.file} to {args.lab}: submission {created['id']} "
              f"({created.get('web_url') or created.get('url')})\n")
    if args.no_wait:
        out.write(json.dumps(created) + "\n" if args.json else f"{created['id']}\n")
        return EXIT_OK
    submission = wait_for_grading(client, created["id"], timeout=args.wait_timeout, err=err,
                                  show_progress=not args.quiet)
    out.write(json.dumps(submission, indent=2) + "\n" if args.json else render_submission(submission))
    return EXIT_OK


def cmd_status(client: Client, args, out: TextIO, err: TextIO) -> int:
    submission = client.submission(args.id)
    if args.wait and submission.get("status") != "done":
        submission = wait_for_grading(client, args.id, timeout=args.wait_timeout, err=err,
                                      show_progress=not args.quiet)
    out.write(json.dumps(submission, indent=2) + "\n" if args.json else render_submission(submission))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    # --url and --token work before or after the subcommand; SUPPRESS keeps a later default from
    # overwriting an earlier value.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS,
                        help=f"server (default: $QUANTPREP_URL, else {DEFAULT_URL})")
    common.add_argument("--token", default=argparse.SUPPRESS,
                        help="API token (default: $QUANTPREP_TOKEN, else ~/.config/quantprep/token)")
    common.add_argument("--allow-http", action="store_true", default=argparse.SUPPRESS,
                        help="send the token over plain http to another machine (default: only https, or "
                             "http to this machine; also $QUANTPREP_ALLOW_HTTP=1)")
    parser = argparse.ArgumentParser(prog="quantprep", parents=[common],
                                     description="Submit QuantPrep labs and follow their grading.",
                                     epilog="Exit codes: 0 done (a graded submission, whatever its verdict), "
                                            "1 server/connection/token error, 2 usage error. See docs/cli.md.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{labs,submit,status}")

    labs = commands.add_parser("labs", parents=[common], help="list the labs")
    labs.add_argument("--json", action="store_true", help="print the list as JSON")
    labs.set_defaults(handler=cmd_labs)

    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument("--json", action="store_true", help="print the final submission as JSON")
    waiting.add_argument("--wait-timeout", type=float, default=900.0, metavar="SECONDS",
                         help="give up waiting after this long (default 900)")
    waiting.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    submit = commands.add_parser("submit", parents=[common, waiting], help="submit a file and wait for the verdict")
    submit.add_argument("lab", metavar="LAB", help="lab slug (see 'quantprep labs')")
    submit.add_argument("file", metavar="FILE", help="the Python file to submit ('-' for stdin)")
    submit.add_argument("--no-wait", action="store_true", help="print the submission id and return at once")
    submit.set_defaults(handler=cmd_submit)

    status = commands.add_parser("status", parents=[common, waiting], help="show a submission and its verdict")
    status.add_argument("id", metavar="ID", type=int, help="submission id")
    status.add_argument("--wait", action="store_true", help="wait until it is graded")
    status.set_defaults(handler=cmd_status)
    return parser


def main(argv: list[str] | None = None, *, transport: httpx.BaseTransport | None = None,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with 2 on a usage error, as argparse does
    try:
        url = resolve_url(getattr(args, "url", None))
        check_transport(url, allow_http=getattr(args, "allow_http", False)
                        or os.environ.get("QUANTPREP_ALLOW_HTTP", "") in ("1", "true", "yes"))
        client = Client(url, resolve_token(getattr(args, "token", None), err=err), transport=transport)
        with client:
            return args.handler(client, args, out, err)
    except (UsageError, httpx.InvalidURL) as exc:
        parser.print_usage(err)
        err.write(f"quantprep: error: {exc}\n")
        return EXIT_USAGE
    except ClientError as exc:
        err.write(f"quantprep: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.write("\nquantprep: interrupted; a submission already sent is still graded "
                  "('quantprep status ID' shows it).\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
