"""What a web process loads: every URL's view, and not torch (only workers make lab inputs). With torch
imported at start, each gunicorn worker and manage.py command took 1.6 s of CPU and 250 MB more."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
import django
django.setup()
from django.urls import get_resolver
def views(patterns):
    for p in patterns:
        yield from views(p.url_patterns) if hasattr(p, "url_patterns") else [p.callback]
found = list(views(get_resolver().url_patterns))
print(len(found), sorted(m for m in ("torch", "numpy") if m in sys.modules))
"""


def test_the_web_process_loads_every_view_without_torch():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"DJANGO_SETTINGS_MODULE": "config.settings.test", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    count, loaded = done.stdout.split(" ", 1)
    assert int(count) > 50 and loaded.strip() == "[]", done.stdout
