"""The Celery app. Broker and policies come from Django settings (``CELERY_*``). A worker started without
DJANGO_SETTINGS_MODULE runs the production settings, which refuse a missing or public key: only
``make run`` (scripts/run.sh) and the tests choose the development or test settings, by name."""

import logging.config
import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")

app = Celery("quantprep")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def use_django_logging(**_kwargs) -> None:
    """The worker and beat log through Django's LOGGING, as the web does (in production one JSON object per
    line): a receiver here makes Celery install no handlers of its own and leave stdout and stderr alone."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
