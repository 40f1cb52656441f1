"""``python manage.py grade_lab LAB FILE [--backend docker|local] [--json]``: exactly the worker's path,
synchronously, for instructors and CI. Exit 0 whatever the verdict; non-zero only for a usage error."""

import json
import sys
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from content.labs import lab_folder_get
from labs.grading import grade


class Command(BaseCommand):
    help = "Grade one file against a lab through the sandbox, as the worker does."

    def add_arguments(self, parser):
        parser.add_argument("lab", help="lab slug, e.g. fp8-e4m3")
        parser.add_argument("file", help="the submission's Python file")
        parser.add_argument("--backend", choices=["docker", "local"], help="default: SANDBOX_BACKEND")
        parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        try:
            lab = lab_folder_get(options["lab"])
        except (LookupError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        path = Path(options["file"])
        try:
            code = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc

        def show(fields: dict) -> None:
            if not options["json"]:
                print("  " + " ".join(f"{k}={v}" for k, v in fields.items()), file=sys.stderr)

        report = grade(lab, code, name=f"cli-{uuid.uuid4().hex[:12]}", backend=options["backend"],
                       device=options["device"], on_progress=show)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_json()))
            return
        self.stdout.write(f"{report.verdict}  score {report.score}  speedup {report.speedup}  "
                          f"({report.backend}, {report.wall_s:.1f} s)")
        for case in report.cases:
            self.stdout.write(f"  {'ok  ' if case['passed'] else 'FAIL'} {case['name']}"
                              + (f": {case['message'][:200]}" if not case["passed"] else ""))
        self.stdout.write(report.diagnostics)
