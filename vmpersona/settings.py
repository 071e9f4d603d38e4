"""Django settings for VM Persona.

Everything that differs between a laptop and production comes from the environment:

- ``DATABASE_URL``: e.g. ``postgres://user:pass@db:5432/vmpersona``; SQLite in the
  instance folder when unset.
- ``REDIS_URL``: channel layer and django-q2 broker; when unset, the one ``make run``
  recorded in the instance folder (``redis-url``), else the channel layer is in-process
  and django-q2 uses the database as its broker.
- ``VMPERSONA_KEK``: key-encryption key(s) for volume keys, comma separated, newest
  first (Fernet keys). Generated into the instance folder when unset.
- ``DJANGO_SECRET_KEY``, ``DJANGO_DEBUG``, ``DJANGO_ALLOWED_HOSTS``,
  ``DJANGO_CSRF_TRUSTED_ORIGINS``.
- Production switches (README "Production settings", docs/deployment.md):
  ``VMPERSONA_HTTPS`` (behind a TLS proxy: secure cookies, HSTS, HTTPS redirect),
  ``VMPERSONA_HSTS_SECONDS``, ``VMPERSONA_HSTS_INCLUDE_SUBDOMAINS``,
  ``VMPERSONA_HSTS_PRELOAD``, ``VMPERSONA_SESSION_AGE``, ``VMPERSONA_PUBLIC_API_DOCS``,
  ``VMPERSONA_API_TOKEN_TTL_DAYS``, ``VMPERSONA_LOGIN_FAILURE_LIMIT``,
  ``VMPERSONA_LOGIN_COOLOFF_MINUTES``, ``VMPERSONA_ALLOW_TEST_DRIVER``.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF

from vmpersona.instance import (
    BASE_DIR,
    instance_dir,
    private_dir,
    private_file,
    random_token,
    read_or_create_secret,
)
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
    "knox",
    "axes",
    "csp",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "simple_history",
    "channels",
    "vmpersona",
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
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
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
                "csp.context_processors.nonce",
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
    SQLITE_PATH = os.environ.get("VMPERSONA_SQLITE_PATH", str(INSTANCE_DIR / "db.sqlite3"))
    # Created empty (a valid SQLite database) with mode 0600 before SQLite opens it, so
    # the database and the WAL/SHM files SQLite makes with the same mode are private
    # from the first byte; vmpersona.dbfiles repairs older files on each connection.
    if Path(SQLITE_PATH).parent.is_dir():
        private_file(Path(SQLITE_PATH))
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
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

# Django's full set: a password may not resemble the username, name or email, must be
# 12 characters or more, may not be a common password and may not be all digits.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Login throttling (django-axes) ---------------------------------------------------
# Failed logins on the login page, the admin and the API token endpoint are counted per
# account and per client address; after the limit, that account (from anywhere) and
# that address (for any account) are locked for the cool-off time. A successful login
# clears its counters. An administrator unlocks in the admin ("Access attempts") or
# with ``manage.py axes_reset`` / ``axes_reset_username NAME`` / ``axes_reset_ip ADDR``.
# The client address is REMOTE_ADDR: behind a proxy, run daphne with --proxy-headers so
# it is the client's and not the proxy's.
AUTHENTICATION_BACKENDS = [
    "vmpersona.auth_backends.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("VMPERSONA_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("VMPERSONA_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TZ", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = INSTANCE_DIR / "static"

# --- Sessions, cookies, HTTPS ---------------------------------------------------------
# Session lifetime in seconds (default 12 hours); a browser left open must log in again.
SESSION_COOKIE_AGE = int(os.environ.get("VMPERSONA_SESSION_AGE", str(12 * 3600)))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (README "Production
# settings"). Off by default so ``make run`` on loopback keeps working over plain HTTP.
VMPERSONA_HTTPS = env_bool("VMPERSONA_HTTPS", False)
if VMPERSONA_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    # Load balancers probe the health check over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("VMPERSONA_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("VMPERSONA_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("VMPERSONA_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS: list[str] = []
if VMPERSONA_HTTPS and not SECURE_HSTS_PRELOAD:
    # Preloading is a commitment made by submitting the domain to browsers' lists; it is
    # the operator's choice (VMPERSONA_HSTS_PRELOAD=1), not a missing setting.
    SILENCED_SYSTEM_CHECKS.append("security.W021")

# --- Content security policy (django-csp) ---------------------------------------------
# Scripts only from /static (plus a per-response nonce for any inline <script> a page
# needs); no inline event handlers (confirmations are data-confirm attributes read by
# static/js/confirm.js). Styles allow inline <style> blocks and style attributes used by
# the pages and Swagger UI. Nothing loads from elsewhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "script-src-attr": [NONE],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Redis, channels, django-q2 -------------------------------------------------------
# A Redis with a password is reached with ``redis://:PASSWORD@host:port/0``; the
# channel layer, the django-q2 broker and the recorded ``instance/redis-url`` all use
# that one URL (``make run`` generates the password; README "Production settings").
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
        # django-rest-knox: tokens are stored as SHA-512 digests, expire, and are revoked
        # one by one ("Your account" page). Header: ``Authorization: Token <key>``.
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Throttles read REMOTE_ADDR only: X-Forwarded-For from a client must not pick the
    # address they are counted under (behind a proxy, daphne --proxy-headers sets it).
    "NUM_PROXIES": 0,
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
    # The schema and the docs need a login unless VMPERSONA_PUBLIC_API_DOCS=1.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"]
    if env_bool("VMPERSONA_PUBLIC_API_DOCS", False)
    else ["rest_framework.permissions.IsAuthenticated"],
}
VMPERSONA_PUBLIC_API_DOCS = env_bool("VMPERSONA_PUBLIC_API_DOCS", False)

# --- API tokens (django-rest-knox) and their throttling -------------------------------
VMPERSONA_API_TOKEN_TTL = timedelta(days=int(os.environ.get("VMPERSONA_API_TOKEN_TTL_DAYS", "30")))
REST_KNOX = {
    "TOKEN_TTL": VMPERSONA_API_TOKEN_TTL,
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
# Requests to the token endpoint per client address and per account name (DRF rate
# syntax), on top of django-axes' lockout after failed passwords. The test suite posts
# to the endpoint hundreds of times from one address and one in-process cache, so it
# runs with a wide limit; the throttle tests set these values back.
VMPERSONA_AUTH_THROTTLE_RATES = {"address": "30/min", "account": "10/min"}
if TESTING:
    VMPERSONA_AUTH_THROTTLE_RATES = {"address": "10000/min", "account": "10000/min"}

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
LOG_DIR = private_dir(INSTANCE_DIR / "logs")
private_file(LOG_DIR / "vmpersona.log")
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
# How long a clone, migration or snapshot rollback watches the VM's health after its
# verification when the profile's ``health_watch.period_s`` does not say (0: no watch).
# The test suite's jobs do not wait unless a test's profile asks.
VMPERSONA_HEALTH_WATCH_DEFAULT_S = int(
    os.environ.get("VMPERSONA_HEALTH_WATCH_DEFAULT_S", "0" if TESTING else "180")
)
# Power jobs (runners.power): how long a graceful shutdown waits for the guest to power
# off after its ACPI power button is pressed (then the job fails; it never forces), and
# how long a start or reboot waits for the guest's agent to answer.
VMPERSONA_POWER_SHUTDOWN_TIMEOUT_S = max(
    1, int(os.environ.get("VMPERSONA_POWER_SHUTDOWN_TIMEOUT_S", "120"))
)
VMPERSONA_POWER_BOOT_TIMEOUT_S = max(
    1, int(os.environ.get("VMPERSONA_POWER_BOOT_TIMEOUT_S", "300"))
)
# Snapshots kept per VM; taking one more deletes the oldest beyond this.
VMPERSONA_SNAPSHOT_RETENTION = max(1, int(os.environ.get("VMPERSONA_SNAPSHOT_RETENTION", "3")))
# Scheduled jobs: one requested "at" a time may still start this many minutes later
# (a busy VM, a blackout) before it expires.
VMPERSONA_SCHEDULE_AT_GRACE_MINUTES = max(
    1, int(os.environ.get("VMPERSONA_SCHEDULE_AT_GRACE_MINUTES", "30"))
)
# A scheduled job on a VM with any of these execution flags waits for an approver other
# than its requester (comma separated; empty: none does).
VMPERSONA_SCHEDULE_APPROVAL_FLAGS = [
    flag.strip()
    for flag in os.environ.get("VMPERSONA_SCHEDULE_APPROVAL_FLAGS", "Production").split(",")
    if flag.strip()
]
# Maintenance windows: the requesters of an occurrence's scheduled jobs and the
# administrators are reminded this many minutes before it opens (0: no reminders).
VMPERSONA_WINDOW_REMINDER_MINUTES = max(
    0, int(os.environ.get("VMPERSONA_WINDOW_REMINDER_MINUTES", "60"))
)
# Host maintenance: how many migrations may leave or arrive at one platform at once
# while platforms are evacuated (services.maintenance).
VMPERSONA_EVACUATION_PARALLEL = max(1, int(os.environ.get("VMPERSONA_EVACUATION_PARALLEL", "2")))
# How often each approved scheduling policy is evaluated (services.policies).
VMPERSONA_POLICY_EVALUATION_MINUTES = max(
    1, int(os.environ.get("VMPERSONA_POLICY_EVALUATION_MINUTES", "15"))
)
# Advisory feeds imported periodically (http or https URLs, comma separated; empty:
# none), each every VMPERSONA_ADVISORY_FEED_HOURS (services.advisories).
VMPERSONA_ADVISORY_FEEDS = [
    url.strip() for url in os.environ.get("VMPERSONA_ADVISORY_FEEDS", "").split(",") if url.strip()
]
VMPERSONA_ADVISORY_FEED_HOURS = max(1, int(os.environ.get("VMPERSONA_ADVISORY_FEED_HOURS", "24")))
# The key window webhooks are signed with (X-VMPersona-Signature, HMAC-SHA256 of the
# body); empty: derived from SECRET_KEY (services.window_notices.webhook_secret).
VMPERSONA_WEBHOOK_SECRET = os.environ.get("VMPERSONA_WEBHOOK_SECRET", "")
# Where each review step of a profile or policy version (submitted, approved, rejected,
# retired) is POSTed as signed JSON; empty: nowhere (services.review_notices). Its key;
# empty: derived from SECRET_KEY.
VMPERSONA_REVIEW_WEBHOOK_URL = os.environ.get("VMPERSONA_REVIEW_WEBHOOK_URL", "")
VMPERSONA_REVIEW_WEBHOOK_SECRET = os.environ.get("VMPERSONA_REVIEW_WEBHOOK_SECRET", "")
# libvirt's in-memory ``test:///default`` driver as a platform URI: tests, DEBUG, or on
# purpose with VMPERSONA_ALLOW_TEST_DRIVER=1 (demos without a hypervisor).
VMPERSONA_ALLOW_TEST_DRIVER = TESTING or DEBUG or env_bool("VMPERSONA_ALLOW_TEST_DRIVER", False)
# Serve static files from the ASGI server itself (single-machine installs).
VMPERSONA_SERVE_STATIC = env_bool("VMPERSONA_SERVE_STATIC", True)
