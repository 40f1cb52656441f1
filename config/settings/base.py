"""Settings shared by every environment. Everything that differs between machines comes from the
environment (see the configuration table in README.md); misconfiguration fails fast."""

import datetime as dt
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env, env_bool, env_list

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env("QUANTPREP_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",  # /api/docs from its own static files, not a CDN
    "axes",
    "cohorts",
    "quizzes",
    "labs",
    "drills",
    "content",
    "reports",
]

MIDDLEWARE = [
    "config.health.HealthCheckMiddleware",  # first: health checks come by IP over plain HTTP
    "django.middleware.security.SecurityMiddleware",
    "config.security.RequestSizeLimitMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Login lockout (django-axes): an account is locked after AXES_FAILURE_LIMIT wrong passwords in a row, on
# the site's login and the admin's alike, for AXES_COOLOFF_TIME; the page says so (429).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(env("LOGIN_FAILURE_LIMIT", "10"))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_COOLOFF_TIME = dt.timedelta(minutes=int(env("LOGIN_LOCKOUT_MINUTES", "15")))
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# axes warns that a lock per account alone can be dodged by rotating cookies: ours counts per username,
# which no cookie changes; a lock per address would shut out a whole classroom behind one NAT.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# Rate limits (config/limits.py), counted in the cache: Redis when CACHE_URL is set (production, and any
# deployment with more than one web process), else each process's memory.
ANSWER_CHECKS_PER_MINUTE = int(env("ANSWER_CHECKS_PER_MINUTE", "30"))
LAB_MAX_WAITING = int(env("LAB_MAX_WAITING", "2"))  # a learner's submissions waiting to be graded
REGISTRATIONS_PER_HOUR = int(env("REGISTRATIONS_PER_HOUR", "5"))  # per client address
PROBLEM_REPORTS_PER_HOUR = int(env("PROBLEM_REPORTS_PER_HOUR", "20"))  # per learner (reports app)
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)  # trust X-Forwarded-For (set by our own reverse proxy)
CACHE_URL = env("CACHE_URL", "")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
          if CACHE_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# No request body larger than this is read (config/security.py); uploads stay in memory up to it, so none
# is spooled to disk. The reverse proxy should refuse it first (nginx: client_max_body_size 2m).
MAX_REQUEST_BYTES = int(env("MAX_REQUEST_BYTES", str(2 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = FILE_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
    "font-src 'self' data:", "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'",
    "frame-ancestors 'none'"])

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cohorts.context_processors.roles",
                "sandbox.context_processors.sandbox_status",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'quantprep.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server and the worker share the embedded database.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Celery -------------------------------------------------------------------------------------
# The embedded default is kombu's filesystem transport: a real Celery transport that needs no server.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    (BROKER_DIR / "control").mkdir(exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(BROKER_DIR), "data_folder_out": str(BROKER_DIR),
                                       "control_folder": str(BROKER_DIR / "control")}
else:
    # Above the longest task (hard limit) so a slow task is not redelivered while it still runs.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True  # the database rows are the source of truth, not a result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 600
CELERY_TASK_TIME_LIMIT = 660
CELERY_TASK_DEFAULT_QUEUE = "grading"
# Longer than the hard time limit, so a submission still being graded is never taken for stuck.
LAB_STUCK_AFTER_S = int(env("LAB_STUCK_AFTER_S", "900"))
# A student "at risk" on the cohort page: no activity for this many days, a mean quiz score (latest
# attempts) under this fraction, or more drill cards overdue than this.
AT_RISK_INACTIVE_DAYS = int(env("AT_RISK_INACTIVE_DAYS", "7"))
AT_RISK_MEAN_SCORE = float(env("AT_RISK_MEAN_SCORE", "0.5"))
AT_RISK_OVERDUE_CARDS = int(env("AT_RISK_OVERDUE_CARDS", "50"))
# A part flagged in the item analysis: facility under the first or over the second, or more of its answers
# undecided by the grader than this share.
ITEM_FACILITY_LOW = float(env("ITEM_FACILITY_LOW", "0.2"))
ITEM_FACILITY_HIGH = float(env("ITEM_FACILITY_HIGH", "0.95"))
ITEM_UNDECIDED_SHARE = float(env("ITEM_UNDECIDED_SHARE", "0.05"))
CELERY_BEAT_SCHEDULE = {
    "requeue-stuck-submissions": {"task": "labs.tasks.sweep_stuck_submissions",
                                  "schedule": float(env("LAB_SWEEP_EVERY_S", "60"))},
    # Attempts are also closed on the learner's next request; this catches the ones nobody looks at.
    "close-overdue-attempts": {"task": "quizzes.tasks.close_overdue_attempts",
                               "schedule": float(env("QUIZ_SWEEP_EVERY_S", "15"))},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Sandbox ------------------------------------------------------------------------------------
SANDBOX_BACKEND = env("SANDBOX_BACKEND", "auto")
if SANDBOX_BACKEND not in {"auto", "docker", "local"}:
    raise ImproperlyConfigured(f"SANDBOX_BACKEND must be docker, local or auto, not {SANDBOX_BACKEND!r}")
SANDBOX_ALLOW_UNSAFE = env_bool("SANDBOX_ALLOW_UNSAFE", False)  # production only: permits local and auto
SANDBOX_ALLOW_LOCAL = True  # production: only with SANDBOX_ALLOW_UNSAFE (grade_lab --backend local too)
SANDBOX_IMAGE = env("SANDBOX_IMAGE", "quantprep-sandbox:cpu")
SANDBOX_GPUS = env("SANDBOX_GPUS", "")
# Each worker process keeps this many sandboxes started ahead (torch imported, no job yet; each serves one
# job), makes the next job's inputs ahead and reuses the reference's recent timing (labs.grading.warm).
# 0 turns all three off: every job then pays for them while its learner waits.
SANDBOX_WARM = int(env("SANDBOX_WARM", "1"))
# The labs whose first inputs each worker process makes as it starts, by slug, comma-separated; empty (the
# default): every lab. Each lab's take 0.2-2 s of CPU and hold their tensors in every worker process; a
# course that runs one lab this week names it. A lab left out is made ready by its first job.
SANDBOX_WARM_LABS = [slug.strip() for slug in env("SANDBOX_WARM_LABS", "").split(",") if slug.strip()]
WORKER_HEARTBEAT_S = float(env("WORKER_HEARTBEAT_S", "30"))  # how often a worker says which backend it runs

LOG_FORMAT = env("LOG_FORMAT", "plain")  # plain | json (one JSON object per line; production's default)
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
                   "json": {"()": "config.logging.JsonFormatter"}},
    # quiet_periodic: the sweeps' "sent", "received" and "succeeded" lines at DEBUG (config/logging.py)
    "filters": {"quiet_periodic": {"()": "config.logging.QuietPeriodicTasks"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT,
                             "filters": ["quiet_periodic"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
