"""The test suite: SQLite (a file, so worker and web processes that tests start can share it), or
PostgreSQL when TEST_DATABASE_URL is set."""

import os

import dj_database_url

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-only-key-" + "x" * 40
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True  # servers started by tests serve static files without collectstatic
# Files are looked up when asked for, not all listed when the middleware starts: each test's client starts
# it again, and listing every app's and vendor library's static files took 15 ms each time.
WHITENOISE_AUTOREFRESH = True
if os.environ.get("TEST_DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["TEST_DATABASE_URL"])}
elif not os.environ.get("DATABASE_URL"):
    # One file per test run: concurrent runs must not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405
STATIC_ROOT = VAR_DIR / "test-static"  # noqa: F405
STATIC_ROOT.mkdir(exist_ok=True)
