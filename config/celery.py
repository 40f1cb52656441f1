"""The Celery app. Broker and policies come from Django settings (``CELERY_*``). A worker started without
DJANGO_SETTINGS_MODULE runs the production settings, which refuse a missing or public key: only
``make run`` (scripts/run.sh) and the tests choose the development or test settings, by name."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")

app = Celery("quantprep")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
