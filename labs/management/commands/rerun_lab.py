"""``python manage.py rerun_lab LAB_SLUG [--all] [--apply] [--reason TEXT] [--json]``: after a lab's checker,
cases or reference changed (``load_content``/``labs_sync`` says "lab X: updated"), grade again the finished
submissions graded before that version: each student's latest one, or ``--all``. Without ``--apply`` a dry run
that lists them and writes nothing; with it they are queued for the grading workers, their old verdicts kept
(labs/services.py). With ``--json`` the last line is ``{"lab", "content_hash", "submissions": [{"id",
"student", "verdict", "score"}], "applied", "rerun"}``."""

import json

from django.core.management.base import BaseCommand, CommandError

from labs.models import Lab
from labs.services import SubmissionRejected, lab_rerun, lab_rerun_candidates


class Command(BaseCommand):
    help = "Grade a lab's earlier submissions again after the lab changed (a dry run unless --apply)."

    def add_arguments(self, parser):
        parser.add_argument("lab", metavar="LAB_SLUG")
        parser.add_argument("--all", action="store_true", help="every finished submission, not each student's latest")
        parser.add_argument("--apply", action="store_true", help="queue them (default: a dry run)")
        parser.add_argument("--reason", default="the lab's checker or cases changed",
                            help="shown to the learners on the submission's page")
        parser.add_argument("--json", action="store_true", help="end with one JSON line")

    def handle(self, *args, **options):
        lab = Lab.objects.filter(slug=options["lab"]).first()
        if lab is None:
            raise CommandError(f"no lab {options['lab']!r} (python manage.py load_content loads the labs)")
        rows = list(lab_rerun_candidates(lab=lab, every=options["all"]).values(
            "id", "user__username", "verdict", "score"))
        rerun = None
        if options["apply"]:
            try:
                rerun = lab_rerun(lab=lab, reason=options["reason"], every=options["all"])
            except SubmissionRejected as exc:
                raise CommandError(str(exc)) from exc
        w = self.stdout.write
        for r in rows:
            w(f"submission {r['id']} by {r['user__username']}: {r['verdict']} {r['score'] if r['score'] is not None else ''}")
        which = "submissions" if options["all"] else "students' latest submissions"
        if options["apply"]:
            w(f"{lab.slug}: {len(rows) if rerun else 0} {which} queued to be graded again"
              + ("" if rerun else " (nothing graded before the current version)"))
        else:
            w(f"{lab.slug}: {len(rows)} {which} graded before the current version would be graded again "
              "(dry run: nothing written; --apply to queue them)")
        if options["json"]:
            w(json.dumps({"lab": lab.slug, "content_hash": lab.content_hash, "applied": bool(options["apply"]),
                          "rerun": rerun.id if rerun else None,
                          "submissions": [{"id": r["id"], "student": r["user__username"], "verdict": r["verdict"],
                                           "score": r["score"]} for r in rows]}))
