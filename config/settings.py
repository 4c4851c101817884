"""HealthSync settings.

One code base, two modes, switched by environment variables only:

* Embedded (no environment set): SQLite in WAL mode under ``var/``, Celery on
  the in-memory broker with a worker thread inside the daphne process, and an
  in-process channel layer.
* Production: ``DATABASE_URL`` (PostgreSQL), ``CELERY_BROKER_URL`` (RabbitMQ),
  ``REDIS_URL`` (channel layer, cache, task results) and the secrets.

Every variable is listed in docs/configuration.md.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def env_secret(name, default=None):
    """Read a secret from ``NAME`` or from the file named by ``NAME_FILE``."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text().strip()
    return env.str(name, default=default)


VAR_DIR = Path(env.str("HEALTHSYNC_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# DJANGO_DEBUG has three states. Unset: the embedded and development defaults (generated keys, plain
# HTTP) with friendly error pages. "1": the same with Django's debug pages. "0": production: secrets
# from the environment (start-up fails without them), HTTPS-only cookies, HSTS, manifest static files.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
PRODUCTION = "DJANGO_DEBUG" in env and not DEBUG
EMBEDDED = not env.str("DATABASE_URL", default="")


def generated_secret(name: str) -> str:
    """A secret of the development modes, made on first start into ``var/<name>`` (mode 600) and read
    back after: never a constant of the source code."""
    path = VAR_DIR / name
    if not path.exists():
        value = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
    path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_secret("DJANGO_SECRET_KEY", default=None if PRODUCTION else "")
if PRODUCTION and not SECRET_KEY:
    raise RuntimeError("DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must be set when DJANGO_DEBUG=0")
SECRET_KEY = SECRET_KEY or generated_secret("secret_key")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "healthsync.apps.HealthSyncAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "auditlog",
    "channels",
    "django_celery_results",
    "django_celery_beat",
    "config",  # the project's own commands (serve)
    "healthsync",
    "imaging",
    "dicom_node",
    "bloodbank",
    "donors",
    "notifications",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "healthsync.permissions.PermissionMemoMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "healthsync.security.AuditlogMiddleware",  # auditlog's, with the client address of client_address
    "healthsync.security.StaffIdleTimeoutMiddleware",
    "healthsync.security.StaffSecondFactorMiddleware",
    "healthsync.audit.PatientReadAuditMiddleware",
    # Last, so its exception hook sees a view's database error first: 503, not a traceback.
    "healthsync.middleware.DatabaseUnavailableMiddleware",
]

# HTTP requests run on this many long-lived threads per server process (config/http_concurrency.py):
# each keeps its database connection. Requests past it wait their turn; keep it above the number of
# long requests (predict with wait=true, streamed exports) expected at once.
HEALTHSYNC_HTTP_CONCURRENCY = env.int("HEALTHSYNC_HTTP_CONCURRENCY", default=8)
# Of those threads, at most this many per process wait for their analyses (predict with wait=true);
# past it, such a request is answered 202 at once, as when its wait runs out, so requests waiting
# for a worker never hold every thread while other requests queue behind them.
HEALTHSYNC_PREDICT_WAITERS = env.int("HEALTHSYNC_PREDICT_WAITERS", default=max(1, HEALTHSYNC_HTTP_CONCURRENCY // 2))

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"
SITE_ID = 1

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
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
if EMBEDDED:
    # IMMEDIATE transactions take the write lock up front and the busy timeout
    # waits for it, so concurrent writers queue instead of failing with
    # "database is locked". WAL lets readers run beside the writer.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("HEALTHSYNC_SQLITE_PATH", default=str(VAR_DIR / "healthsync.sqlite3")),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            },
        }
    }
else:
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)  # kept by the HTTP threads below
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["ATOMIC_REQUESTS"] = False

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, task results ----------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: one alert to a group is one PUBLISH, and each daphne process hands it to all its
            # sockets, instead of one list push and pop per socket. Delivery is at most once either
            # way; the inbox is the source of truth and reconnecting clients replay from it. The
            # watched variant closes the sockets whose subscriptions a lost Redis connection dropped.
            "BACKEND": "lib.channel_layers.WatchedRedisPubSubChannelLayer",
            "CONFIG": {
                # redis-py 8 reads with a 5 s socket timeout by default, the same as channels-redis's
                # 5 s blocking pop, so an idle socket's receive could time out: read for longer.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 5}],
                "prefix": env.str("HEALTHSYNC_CHANNEL_PREFIX", default="healthsync"),
            },
        }
    }
    CACHES = {
        "default": {
            # Rate-limit counters only: while Redis is unreachable every read is a miss (see lib/cache.py).
            "BACKEND": "lib.cache.FailSoftRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "healthsync",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "lib.channel_layers.ThreadSafeInMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "healthsync"}}

# --- Celery --------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="memory://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or "django-db")
# Tasks report through the database and sockets; nothing reads task results. Storing them anyway made
# every .delay() (web) and every finished task (worker) wait ~20 s and then fail while Redis was down.
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fix-up closes every database connection around every task unless this is set: a
# new PostgreSQL connection (3-9 ms, and a server process) per task. With it set, config.celery
# applies Django's own rule around tasks instead, as around requests (CONN_MAX_AGE, health checks).
CELERY_DB_REUSE_MAX = 10**9
CELERY_RESULT_EXTENDED = True
CELERY_TASK_DEFAULT_QUEUE = env.str("HEALTHSYNC_TASK_QUEUE", default="healthsync")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# A task is acknowledged only after it ran, and is put back when its worker dies,
# so a killed worker loses nothing; tasks are written to be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_MAX_RETRIES = 3
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 3, "interval_start": 0, "interval_step": 0.5}
if CELERY_BROKER_URL.startswith("memory://"):
    # The embedded worker thread finds a task on kombu's in-memory broker by polling it: once a second
    # by default (up to 1 s of queue wait per analysis). Every 10 ms, the idle server uses about 1.5% of
    # a core instead of 0.1% (docs/benchmarks.md, bench_imaging --embedded).
    CELERY_BROKER_TRANSPORT_OPTIONS["polling_interval"] = 0.01
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Auth ----------------------------------------------------------------------
AUTH_USER_MODEL = "healthsync.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "healthsync.permissions.MembershipPermissionBackend",  # has_perm(perm, hospital), from memberships
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "/donor/"  # the portal sends staff on to the operations console
LOGIN_URL = "/accounts/login/"
# Staff web sessions end after this long idle; sensitive actions need a login this recent.
HEALTHSYNC_STAFF_IDLE_MINUTES = env.int("HEALTHSYNC_STAFF_IDLE_MINUTES", default=30)
# Days a staff invitation's link stays valid (healthsync.invitations).
HEALTHSYNC_INVITATION_DAYS = env.int("HEALTHSYNC_INVITATION_DAYS", default=7)
HEALTHSYNC_REAUTH_MINUTES = env.int("HEALTHSYNC_REAUTH_MINUTES", default=15)
# Staff (console accounts) must have an authenticator app: without one they reach only the page turning it on.
HEALTHSYNC_STAFF_SECOND_FACTOR = env.bool("HEALTHSYNC_STAFF_SECOND_FACTOR", default=False)

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
# "mandatory" (production default): an account that registers itself confirms its address before it can
# log in, and every registration answers alike whether or not the address has an account (healthsync.registration).
ACCOUNT_EMAIL_VERIFICATION = env.str("HEALTHSYNC_EMAIL_VERIFICATION", default="mandatory" if PRODUCTION else "optional")
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# Failed logins, per client address and per account (the email): every login shares these counters,
# the web's and the JWT logins (healthsync.security.account_authenticate), so an account locked on one
# is locked on all, and an unknown email is limited as a known one is.
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
ACCOUNT_ADAPTER = "healthsync.security.AccountAdapter"  # the client address of healthsync.security.client_address
# Proxies in front of HealthSync that each append their peer's address to X-Forwarded-For. 0: the header
# is ignored and the client is the connection's peer. Every rate limit and audit record reads the
# address through healthsync.security.client_address; allauth's and DRF's own settings agree with it.
HEALTHSYNC_TRUSTED_PROXIES = env.int("HEALTHSYNC_TRUSTED_PROXIES", default=0)
ALLAUTH_TRUSTED_PROXY_COUNT = HEALTHSYNC_TRUSTED_PROXIES
# Two-factor authentication (allauth.mfa), optional per account: an authenticator app (TOTP) with
# recovery codes. Every web login (portal and console) then asks for a code, and the JWT login
# takes it as `otp`. Wrong codes count against the per-account `login_failed` limit above.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "HealthSync"
MFA_TOTP_TOLERANCE = 1  # one 30-second step either side, for phone clocks that drift
MFA_ADAPTER = "healthsync.security.MFAAdapter"  # TOTP secrets stored encrypted

# --- REST API --------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "healthsync.authentication.AuditedJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's parsers, the JSON one with a nesting limit (deep bodies: 400, not a RecursionError).
    "DEFAULT_PARSER_CLASSES": [
        "healthsync.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "healthsync.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "healthsync.errors.api_exception_handler",
    # ?format= names a report's file format (json, csv, pdf), not a DRF renderer.
    "URL_FORMAT_OVERRIDE": None,
    # Rate limits identify clients by healthsync.security.client_address (healthsync.api.throttling).
    "NUM_PROXIES": HEALTHSYNC_TRUSTED_PROXIES,
    "DEFAULT_THROTTLE_RATES": {
        "login": env.str("HEALTHSYNC_LOGIN_RATE", default="10/min"),
        "register": env.str("HEALTHSYNC_REGISTER_RATE", default="20/hour"),
        "predict": env.str("HEALTHSYNC_PREDICT_RATE", default="120/min"),
        # Requests of urgency 4-5 raise network and donor alerts: a cap per user keeps a runaway client
        # from flooding them.
        "blood_request": env.str("HEALTHSYNC_BLOOD_REQUEST_RATE", default="60/min"),
    },
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("HEALTHSYNC_JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("HEALTHSYNC_JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": False,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Tokens carry a digest of the password hash: a changed password ends every token issued before it
    # (healthsync.security.revoke_api_tokens also blacklists the refresh tokens, and does on a new second factor).
    "CHECK_REVOKE_TOKEN": True,
}
# /api/schema/ and /api/docs/ for anyone (embedded/debug default) or logged-in accounts only (production).
HEALTHSYNC_PUBLIC_API_DOCS = env.bool("HEALTHSYNC_PUBLIC_API_DOCS", default=not PRODUCTION)
SPECTACULAR_SETTINGS = {
    "TITLE": "HealthSync API",
    "DESCRIPTION": "Medical image analysis and blood bank management.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["healthsync.permissions.ApiDocsAccess"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "BloodGroupEnum": "bloodbank.models.BloodGroup",
        "ComponentEnum": "bloodbank.models.Component",
        "UnitStatusEnum": "bloodbank.models.UnitStatus",
        "BloodRequestStatusEnum": "bloodbank.models.BloodRequestStatus",
        "AllocationStatusEnum": "bloodbank.models.AllocationStatus",
        "TransferStatusEnum": "bloodbank.models.TransferStatus",
        "CrossmatchMethodEnum": "bloodbank.models.CrossmatchMethod",
        "AppointmentStatusEnum": "donors.models.AppointmentStatus",
        "DonationStatusEnum": "donors.models.DonationStatus",
        "StaffRoleEnum": "healthsync.models.STAFF_ROLES",
    },
    # Swagger UI's assets are served from the installed sidecar package, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Personal data encryption (django-fernet-encrypted-fields) ---------------------
# Keys come from the environment; the first key encrypts, all keys decrypt, so
# keys can be rotated by prepending a new one.
SALT_KEY = env_secret("HEALTHSYNC_FIELD_ENCRYPTION_KEYS", default=None if PRODUCTION else "")
if PRODUCTION and not SALT_KEY:
    raise RuntimeError("HEALTHSYNC_FIELD_ENCRYPTION_KEYS must be set when DJANGO_DEBUG=0")
SALT_KEY = SALT_KEY or generated_secret("field_encryption_keys")
# Development data encrypted before keys were generated (under constant keys) stays readable there;
# production never reads it (healthsync.fields).
HEALTHSYNC_READ_OLD_DEVELOPMENT_KEYS = not PRODUCTION
SALT_KEY = [key.strip() for key in SALT_KEY.split(",") if key.strip()]

# --- Internationalisation, static, media ---------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("HEALTHSYNC_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]  # vendored Bootstrap and Chart.js, the portal's CSS and JS
STATIC_ROOT = Path(env.str("HEALTHSYNC_STATIC_ROOT", default=str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on a missing directory
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("HEALTHSYNC_MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Outside production WhiteNoise serves the apps' static files without collectstatic, as runserver does.
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Email ---------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "DJANGO_EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if EMBEDDED
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("DJANGO_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("DJANGO_EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("DJANGO_EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env_secret("DJANGO_EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("DJANGO_EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="HealthSync <noreply@healthsync.local>")

# --- Security (production) --------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Secure-sessionid"
    CSRF_COOKIE_NAME = "__Secure-csrftoken"

HEALTHSYNC_ADMIN_URL = env.str("HEALTHSYNC_ADMIN_URL", default="admin/")

# --- Logging -------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("HEALTHSYNC_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- HealthSync --------------------------------------------------------------------------
CELERY_BEAT_SCHEDULE = {
    "bloodbank-expire-units": {
        "task": "bloodbank.tasks.expire_units",
        "schedule": env.int("HEALTHSYNC_EXPIRY_SWEEP_SECONDS", default=900),
    },
    "notifications-expiring-digest": {
        "task": "notifications.tasks.expiring_digest",
        "schedule": crontab(hour=7, minute=0),
    },
    "notifications-appointment-reminders": {
        "task": "notifications.tasks.appointment_reminders",
        "schedule": crontab(minute=5),
    },
    "notifications-resend-due": {"task": "notifications.tasks.resend_due_deliveries", "schedule": 300},
    "imaging-requeue-stale": {"task": "imaging.tasks.requeue_stale_analyses", "schedule": 60},
}

# ISBT 128 facility identification numbers are assigned from this prefix at registration.
HEALTHSYNC_FIN_PREFIX = env.str("HEALTHSYNC_FIN_PREFIX", default="H")
# Hospitals registering through the API join the network at once in the embedded
# default; in production a platform administrator verifies them.
HEALTHSYNC_AUTO_VERIFY_HOSPITALS = env.bool("HEALTHSYNC_AUTO_VERIFY_HOSPITALS", default=EMBEDDED)
# Urgent requests of one hospital that alert the network (other hospitals, platform administrators,
# donors) within an hour; further ones alert its own staff only.
HEALTHSYNC_URGENT_ALERTS_PER_HOUR = env.int("HEALTHSYNC_URGENT_ALERTS_PER_HOUR", default=10)
# Blood bank and donor rule parameters: each is set only when its variable is; unset (None, or a component
# or donation type left out), the rule's default applies (bloodbank.parameters, donors.parameters, whose
# defaults are constants of bloodbank.rules and donors.rules; docs/configuration.md lists them).


def _only_set(values: dict) -> dict:
    return {key: value for key, value in values.items() if value is not None}


# O-negative red cells kept back for O-negative recipients and emergencies (units per hospital).
HEALTHSYNC_O_NEGATIVE_RESERVE = env.int("HEALTHSYNC_O_NEGATIVE_RESERVE", default=None)
# Days a recipient's sample serves for crossmatching red cells (21 CFR 606.151(b)).
HEALTHSYNC_CROSSMATCH_SAMPLE_DAYS = env.int("HEALTHSYNC_CROSSMATCH_SAMPLE_DAYS", default=None)
# Minutes after issue within which an unused refrigerated unit (red cells, whole blood) may go back
# to stock (the 30-minute rule; raise it only with validated transport boxes).
HEALTHSYNC_RETURN_TO_STOCK_MINUTES = env.int("HEALTHSYNC_RETURN_TO_STOCK_MINUTES", default=None)
# Standard volume of one bag per component (ml): "units" = ceil(ml / standard volume).
HEALTHSYNC_STANDARD_VOLUME_ML = _only_set(
    {
        "whole_blood": env.int("HEALTHSYNC_VOLUME_WHOLE_BLOOD_ML", default=None),
        "red_cells": env.int("HEALTHSYNC_VOLUME_RED_CELLS_ML", default=None),
        "plasma": env.int("HEALTHSYNC_VOLUME_PLASMA_ML", default=None),
        "platelets": env.int("HEALTHSYNC_VOLUME_PLATELETS_ML", default=None),
        "cryoprecipitate": env.int("HEALTHSYNC_VOLUME_CRYOPRECIPITATE_ML", default=None),
    }
)
# Par levels used where staff have set none (units of one group and component).
HEALTHSYNC_DEFAULT_PAR_CRITICAL = env.int("HEALTHSYNC_DEFAULT_PAR_CRITICAL", default=None)
HEALTHSYNC_DEFAULT_PAR_LOW = env.int("HEALTHSYNC_DEFAULT_PAR_LOW", default=None)
# Days a donor waits after a donation, by that donation's type (FDA 21 CFR 630 and blood centre practice).
HEALTHSYNC_DONATION_INTERVALS = _only_set(
    {
        "whole_blood": env.int("HEALTHSYNC_INTERVAL_WHOLE_BLOOD_DAYS", default=None),
        "double_red_cells": env.int("HEALTHSYNC_INTERVAL_DOUBLE_RED_CELLS_DAYS", default=None),
        "platelets": env.int("HEALTHSYNC_INTERVAL_PLATELETS_DAYS", default=None),
        "plasma": env.int("HEALTHSYNC_INTERVAL_PLASMA_DAYS", default=None),
    }
)
# Least weight (kg) for a double red cell donation; the whole-blood minimum is 50 kg (110 lb). Blood centre
# practice (American Red Cross): 130 lb for men, 150 lb and a minimum height for women; HealthSync applies
# the men's figure to every donor and checks no height (docs/domain/blood-banking.md).
HEALTHSYNC_DOUBLE_RED_CELLS_MINIMUM_WEIGHT_KG = env.float("HEALTHSYNC_DOUBLE_RED_CELLS_MINIMUM_WEIGHT_KG", default=None)
# Infection markers that must be recorded negative before a donation's units leave quarantine.
HEALTHSYNC_REQUIRED_MARKERS = env.list("HEALTHSYNC_REQUIRED_MARKERS", default=None)
# Further infection markers results may be recorded under (any other name is refused).
HEALTHSYNC_FURTHER_MARKERS = env.list("HEALTHSYNC_FURTHER_MARKERS", default=None)
# SMS provider: a class with send(*, to, body, idempotency_key); the default logs messages.
HEALTHSYNC_SMS_BACKEND = env.str("HEALTHSYNC_SMS_BACKEND", default="notifications.sms.LoggingSmsBackend")
# Imaging uploads: the largest file accepted, and the most pixels decoded (decompression-bomb guard).
HEALTHSYNC_MAX_UPLOAD_MB = env.int("HEALTHSYNC_MAX_UPLOAD_MB", default=50)
HEALTHSYNC_MAX_IMAGE_PIXELS = env.int("HEALTHSYNC_MAX_IMAGE_PIXELS", default=50_000_000)
# All the images of one request together (a batch of 32 is read into memory to be checked).
HEALTHSYNC_MAX_BATCH_MB = env.int("HEALTHSYNC_MAX_BATCH_MB", default=256)
DATA_UPLOAD_MAX_MEMORY_SIZE = HEALTHSYNC_MAX_UPLOAD_MB * 1024 * 1024 + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Imaging: where the labelled data sets and the trained models live.
HEALTHSYNC_DATASETS_DIR = Path(env.str("HEALTHSYNC_DATASETS_DIR", default=str(BASE_DIR.parent / "shared" / "datasets")))
HEALTHSYNC_MODELS_DIR = Path(env.str("HEALTHSYNC_MODELS_DIR", default=str(BASE_DIR / "ml_models" / "artifacts")))

# --- DICOM node (dicom_node): DIMSE in, structured reports and secondary captures out ---------------
# Its AE title (peers call it by this; results are sent as it), address and port. `manage.py dicom_listener`
# runs it; in the embedded mode `manage.py serve` runs it in a thread too, unless the port is 0 or empty.
HEALTHSYNC_DICOM_AE_TITLE = env.str("HEALTHSYNC_DICOM_AE_TITLE", default="HEALTHSYNC")
HEALTHSYNC_DICOM_HOST = env.str("HEALTHSYNC_DICOM_HOST", default="127.0.0.1")
HEALTHSYNC_DICOM_PORT = int(env.str("HEALTHSYNC_DICOM_PORT", default="11112") or 0)
# Largest instance accepted (C-STORE 0xA700 above); HEALTHSYNC_MAX_UPLOAD_MB applies as well.
HEALTHSYNC_DICOM_MAX_INSTANCE_MB = env.int("HEALTHSYNC_DICOM_MAX_INSTANCE_MB", default=HEALTHSYNC_MAX_UPLOAD_MB)
# Seconds a peer may stay silent within an association (and the DIMSE timeout) before it is aborted.
HEALTHSYNC_DICOM_TIMEOUT_S = env.int("HEALTHSYNC_DICOM_TIMEOUT_S", default=60)
CELERY_BEAT_SCHEDULE["dicom-resend-results"] = {"task": "dicom_node.tasks.resend_due_results", "schedule": 60}
CELERY_BEAT_SCHEDULE["dicom-route-interrupted"] = {
    "task": "dicom_node.tasks.route_interrupted_associations",
    "schedule": 300,
}
