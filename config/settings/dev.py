"""Local development and ``make run``: the embedded defaults."""

from config.env import env, env_bool

from .base import *  # noqa: F403

# DEBUG stays on for manage.py commands (demo_setup refuses to make its known passwords without it), but
# scripts/run.sh starts the web server and the worker with DEBUG off: `make run` is what a learner sees,
# and a mistyped address must show the site's own 404 page (templates/404.html), not Django's debug page
# with the settings and every URL pattern. `DEBUG=1 make run` brings the debug pages back.
DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env("SECRET_KEY", "dev-only-key-not-for-production-" + "x" * 20)
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# WhiteNoise serves static/ and the apps' static files straight from their folders, with DEBUG off as well
# (by default it does only with DEBUG on): `make run` never runs collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
