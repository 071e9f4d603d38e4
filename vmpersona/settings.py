"""Django settings for VM Persona.

Everything that differs between a laptop and production comes from the environment:

- ``DATABASE_URL``: e.g. ``postgres://user:pass@db:5432/vmpersona``; SQLite in the
  instance folder when unset.
- ``REDIS_URL``: channel layer and django-q2 broker; when unset, the one ``make run``
  recorded in the instance folder (``redis-url``), else the channel layer is in-process
  and django-q2 uses the database as its broker.
- ``VMPERSONA_KEK``: key-encryption key(s) for volume keys, comma separated, newest
  first (Fernet keys). Generated into the instance folder when unset.
- ``DJANGO_SECRET_KEY``, ``DJANGO_DEBUG``, ``DJANGO_ALLOWED_HOSTS``.
"""

from __future__ import annotations

import os
import sys

import dj_database_url

from vmpersona.instance import BASE_DIR, instance_dir, random_token, read_or_create_secret
from vmpersona.realtime import redis_channel_layer

INSTANCE_DIR = instance_dir()
TESTING = "pytest" in sys.modules or os.environ.get("VMPERSONA_TESTING") == "1"


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or read_or_create_secret(
    "secret_key", lambda: random_token(50)
)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(
        ","
    )
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "simple_history",
    "channels",
    "profiles_app",
    "operations_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "vmpersona.urls"

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
                "vmpersona.context_processors.navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "vmpersona.wsgi.application"
ASGI_APPLICATION = "vmpersona.asgi.application"

# --- Database -------------------------------------------------------------------------
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("VMPERSONA_SQLITE_PATH", str(INSTANCE_DIR / "db.sqlite3")),
            # WAL lets readers proceed while a worker writes; IMMEDIATE transactions take
            # the write lock up front so two writers queue instead of failing with
            # "database is locked" half-way through; the timeout is how long they queue.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA busy_timeout=30000;"
                    "PRAGMA foreign_keys=ON;"
                ),
            },
            # A file, not memory: live-server, worker and raw-file tests need to share it.
            "TEST": {"NAME": str(INSTANCE_DIR / "test-db.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TZ", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = INSTANCE_DIR / "static"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Redis, channels, django-q2 -------------------------------------------------------
# ``make run`` records the Redis it started in the instance folder while it runs, so
# commands started from another shell on the same instance reach its workers. Tests
# never use it: their jobs must not reach a running instance's workers.
REDIS_URL = os.environ.get("REDIS_URL", "")
if not REDIS_URL and not TESTING and (INSTANCE_DIR / "redis-url").is_file():
    REDIS_URL = (INSTANCE_DIR / "redis-url").read_text().strip()

if REDIS_URL:
    CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL)}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

Q_CLUSTER: dict = {
    "name": "vmpersona",
    "workers": int(os.environ.get("VMPERSONA_WORKERS", "2")),
    "timeout": 3600,
    "retry": 3700,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 500,
    "label": "Worker tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
if env_bool("VMPERSONA_Q_SYNC", False):
    Q_CLUSTER["sync"] = True

# --- REST framework and OpenAPI -------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "vmpersona.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "VM Persona API",
    "DESCRIPTION": "VM personality profiles (VPPDs) as versioned policies; clone and migrate VMs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Keep the bundled Swagger UI fully offline (no call to the public validator).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- Email ----------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "vmpersona@localhost")

# --- Volume key encryption ------------------------------------------------------------
# Comma-separated Fernet keys, newest first; only the first encrypts, all decrypt.
VMPERSONA_KEK = os.environ.get("VMPERSONA_KEK", "")
VMPERSONA_KEK_FILE = INSTANCE_DIR / "kek"

# --- Logging --------------------------------------------------------------------------
LOG_DIR = INSTANCE_DIR / "logs"
LOG_DIR.mkdir(exist_ok=True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "file": {
            "class": "logging.handlers.WatchedFileHandler",
            "filename": str(LOG_DIR / "vmpersona.log"),
            "formatter": "plain",
        },
    },
    "root": {
        "handlers": ["console", "file"],
        "level": os.environ.get("VMPERSONA_LOG_LEVEL", "INFO"),
    },
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}

SIMPLE_HISTORY_REVERT_DISABLED = True

if TESTING:
    # Password hashing dominates test set-up time; tests do not need it to be slow.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Absolute address of the web UI, for links in notification emails.
VMPERSONA_BASE_URL = os.environ.get("VMPERSONA_BASE_URL", "http://127.0.0.1:8000")
# A running job that has not beaten its heartbeat for this long is considered dead.
VMPERSONA_JOB_STALE_SECONDS = int(os.environ.get("VMPERSONA_JOB_STALE_SECONDS", "600"))
# A queued job no worker has started after this long is handed to the queue again.
VMPERSONA_JOB_REQUEUE_SECONDS = int(os.environ.get("VMPERSONA_JOB_REQUEUE_SECONDS", "300"))
# Snapshots kept per VM; taking one more deletes the oldest beyond this.
VMPERSONA_SNAPSHOT_RETENTION = max(1, int(os.environ.get("VMPERSONA_SNAPSHOT_RETENTION", "3")))
# Serve static files from the ASGI server itself (single-machine installs).
VMPERSONA_SERVE_STATIC = env_bool("VMPERSONA_SERVE_STATIC", True)
