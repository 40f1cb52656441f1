"""``manage.py check_answer``: grade one answer from the command line, for content authors and outside checks.

    manage.py check_answer --expected "EXPR" [--symbols "a b c"] [--positive "a b"] [--integer "n"]
        [--test equivalent|numeric|same_form] [--rtol R] [--atol A] [--unit U] [--form F] [--json] "ANSWER"
    manage.py check_answer --question SLUG --part PART [--seed N] [--json] "ANSWER"

With --json it prints {"correct", "score", "feedback", "parsed", "error"} and exits 0 whatever the verdict;
usage errors (bad flags, an expected formula that does not parse, an unknown question) exit 2.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from graders.answers import check_answer, sample_params, validate_spec
from graders.math.parser import ParseError, candidate_names


def _usage(message: str) -> CommandError:
    return CommandError(message, returncode=2)


class Command(BaseCommand):
    help = "Check one answer against an expected formula or number, or against a stored question part."
    requires_system_checks = []  # a grading tool: it must not depend on URL or template configuration

    def add_arguments(self, parser):
        parser.add_argument("answer", help="the answer text (one that begins with '-' goes after '--')")
        parser.add_argument("--expected", help="the key: a formula in the grader's ASCII grammar, or a number")
        parser.add_argument("--symbols", help="space-separated names the answer may use (default: those in --expected)")
        parser.add_argument("--positive", default="", help="space-separated names that are positive")
        parser.add_argument("--integer", default="", help="space-separated names that are integers")
        parser.add_argument("--test", choices=["equivalent", "numeric", "same_form"], default="equivalent")
        parser.add_argument("--form", choices=["expanded", "factored", "number"], help="for --test same_form")
        parser.add_argument("--rtol", type=float, help="relative tolerance")
        parser.add_argument("--atol", type=float, help="absolute tolerance (numeric test)")
        parser.add_argument("--unit", help="unit of the expected number (numeric test), e.g. GB")
        parser.add_argument("--question", help="question slug (grade against a stored part)")
        parser.add_argument("--part", help="part key, with --question")
        parser.add_argument("--seed", type=int, default=0, help="parameter variant, with --question")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **opts):
        if opts["question"] or opts["part"]:
            if opts["expected"] is not None:
                raise _usage("use either --expected or --question/--part, not both")
            spec, params = self._stored(opts)
        elif opts["expected"] is not None:
            spec, params = self._adhoc(opts), None
        else:
            raise _usage("give --expected EXPR, or --question SLUG --part PART")
        result = check_answer(opts["answer"], spec, params=params)
        if opts["json"]:
            self.stdout.write(json.dumps(result.as_json()))
            return
        if result.error:
            self.stdout.write(f"error: {result.error}")
            return
        verdict = "undecided" if result.undecided else ("correct" if result.correct else "incorrect")
        self.stdout.write(f"{verdict} (score {result.score:g})")
        if result.parsed:
            self.stdout.write(f"read as: {result.parsed}")
        if result.feedback:
            self.stdout.write(f"feedback: {result.feedback}")

    def _stored(self, opts):
        if not (opts["question"] and opts["part"]):
            raise _usage("--question and --part go together")
        from quizzes.models import Part

        try:
            part = Part.objects.get(question__slug=opts["question"], key=opts["part"])
        except Part.DoesNotExist:
            raise _usage(f"no part {opts['part']!r} in question {opts['question']!r}") from None
        spec = dict(part.spec or {})
        spec.setdefault("kind", part.kind)
        params = sample_params(spec, opts["seed"]) if spec.get("params") else None
        return spec, params

    def _adhoc(self, opts) -> dict:
        expected = opts["expected"]
        if opts["test"] == "numeric":
            spec = {"kind": "numeric", "answer": expected, "rtol": 0.01 if opts["rtol"] is None else opts["rtol"],
                    "atol": opts["atol"] or 0}
            if opts["unit"]:
                spec["unit"] = opts["unit"]
        else:
            positive = set(opts["positive"].split())
            integer = set(opts["integer"].split())
            if opts["symbols"] is not None:
                names = opts["symbols"].split()
            else:
                try:
                    names = candidate_names(expected)
                except ParseError as exc:
                    raise _usage(f"--expected: {exc}") from None
            names += sorted((positive | integer) - set(names))
            symbols = {}
            for name in names:
                domain = {(True, True): "positive_integer", (True, False): "positive",
                          (False, True): "integer"}.get((name in positive, name in integer), "real")
                symbols[name] = {"domain": domain}
            spec = {"kind": "symbolic", "expected": expected, "symbols": symbols, "test": opts["test"]}
            if opts["test"] == "same_form":
                spec["form"] = opts["form"] or "expanded"
            if opts["rtol"] is not None:
                spec["rtol"] = opts["rtol"]
        problems = validate_spec(spec)
        if problems:
            raise _usage("--expected: " + "; ".join(problems))
        return spec
