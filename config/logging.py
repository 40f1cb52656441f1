"""Log records as one JSON object per line (production), so a log shipper can index them without parsing;
and the periodic sweeps' routine lines moved down to DEBUG."""

import json
import logging
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is worth keeping.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool | None) else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class QuietPeriodicTasks(logging.Filter):
    """The routine INFO lines of the periodic tasks in CELERY_BEAT_SCHEDULE (beat's "Sending due task", the
    worker's "Task ... received" and "... succeeded") become DEBUG lines: every 15 s they would push
    everything else, the URL ``make run`` prints included, off the screen. They are kept when their logger is
    enabled for DEBUG (LOG_LEVEL=DEBUG). Only INFO records of those tasks are touched: a sweep's warnings,
    its failures, and every line of the grading tasks stay as they are. On the console handler, so it sees
    records of every logger (Celery's names for them have moved between versions)."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._tasks: frozenset[str] | None = None

    def periodic_tasks(self) -> frozenset[str]:
        if self._tasks is None:
            from django.conf import settings

            schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", {}) or {}
            self._tasks = frozenset(entry["task"] for entry in schedule.values())
        return self._tasks

    def task_of(self, record: logging.LogRecord) -> str | None:
        args = record.args
        if isinstance(args, dict):  # celery.app.trace and celery.worker.strategy: a context with "name"
            return args.get("name")
        if record.name == "celery.beat" and isinstance(args, tuple) and len(args) == 2:  # (entry name, task)
            return args[1]
        return None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not record.name.startswith("celery"):
            return True
        if self.task_of(record) not in self.periodic_tasks():
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
