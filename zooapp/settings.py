"""The one settings module. Every deployment value comes from the environment.

Malformed values fail loudly at start-up (ImproperlyConfigured), so a typo in a
deployment never turns into a silently wrong default. Every variable read here is
listed, with a comment, in `.env.example`.
"""
from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true or false")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_secret(name: str, default: str | None = None) -> str:
    """A secret from NAME or from the file named by NAME_FILE (for container secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc}") from None
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"{name} must be set (or {name}_FILE) when DEBUG is false")
    return value


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_secret("SECRET_KEY", "dev-only-insecure-key-change-me" if DEBUG else None)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_NAME = env_str("SITE_NAME", "zooloop")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "zooapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "zooapp.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "zooapp.urls"
WSGI_APPLICATION = "zooapp.wsgi.application"

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
                "zooapp.access.navigation",
            ],
        },
    },
]

VAR_DIR = Path(env_str("ZOOLOOP_VAR_DIR", str(BASE_DIR / "var")))
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'zooloop.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite creates its file but not the folder; a fresh clone has no var/ yet.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # The web server and the worker write concurrently: wait for the lock instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Tests use a file, not memory: threads then get real, separate connections, as in production.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
MEDIA_URL = env_str("MEDIA_URL", "/media/")
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    # Any Django storage backend (e.g. an S3 one) can hold the media, so web processes stay stateless.
    "default": {"BACKEND": env_str("MEDIA_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": env_str("STATIC_STORAGE_BACKEND",
                                       "whitenoise.storage.CompressedManifestStaticFilesStorage"
                                       if not DEBUG else
                                       "django.contrib.staticfiles.storage.StaticFilesStorage")},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)
ZOOLOOP_MAX_IMAGE_BYTES = env_int("ZOOLOOP_MAX_IMAGE_BYTES", 20 * 1024 * 1024)
ZOOLOOP_MAX_IMAGE_PIXELS = env_int("ZOOLOOP_MAX_IMAGE_PIXELS", 40_000_000)
ZOOLOOP_MODEL_DIR = Path(env_str("ZOOLOOP_MODEL_DIR", str(VAR_DIR / "models")))
# Training budgets in optimizer steps (ml.classifier.ClassifierConfig, ml.detector.DetectorConfig).
ZOOLOOP_CLASSIFIER_STEPS = env_int("ZOOLOOP_CLASSIFIER_STEPS", 300)
ZOOLOOP_CLASSIFIER_MIN_STEPS = env_int("ZOOLOOP_CLASSIFIER_MIN_STEPS", 200)  # the fresh-model floor
ZOOLOOP_CLASSIFIER_FINETUNE_STEPS = env_int("ZOOLOOP_CLASSIFIER_FINETUNE_STEPS", 100)
# Issue #18: generated galaxies (python -m ml generate) added to classifier training for the rare classes.
ZOOLOOP_GENERATED_DIR = env_str("ZOOLOOP_GENERATED_DIR", "")  # empty: train on real subjects only
ZOOLOOP_GENERATED_RATIO = float(env_str("ZOOLOOP_GENERATED_RATIO", "1.0"))  # generated per real rare galaxy
ZOOLOOP_DETECTOR_STEPS = env_int("ZOOLOOP_DETECTOR_STEPS", 400)
ZOOLOOP_PREDICT_VIEWS = env_int("ZOOLOOP_PREDICT_VIEWS", 8)
ZOOLOOP_EXPORT_DIR = Path(env_str("ZOOLOOP_EXPORT_DIR", str(VAR_DIR / "exports")))

# Proxies in front of the web processes that each append the connecting address to X-Forwarded-For
# (1 behind the documented load balancer). 0 ignores the header: a client could write anything there.
ZOOLOOP_TRUSTED_PROXIES = env_int("ZOOLOOP_TRUSTED_PROXIES", 0)
if ZOOLOOP_TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured(f"ZOOLOOP_TRUSTED_PROXIES={ZOOLOOP_TRUSTED_PROXIES} must be 0 or more")
# JSON bodies nested deeper than this are refused with a 400 (the classify tree needs about 4 levels).
ZOOLOOP_MAX_JSON_DEPTH = env_int("ZOOLOOP_MAX_JSON_DEPTH", 20)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_str("CACHE_URL", ""),
    }
    if env_str("CACHE_URL", "")
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_SCHEMA_CLASS": "zooapp.api.schema.ZooAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_THROTTLE_RATES": {
        "classify": env_str("RATE_LIMIT_CLASSIFY", "120/min"),
        "signup": env_str("RATE_LIMIT_SIGNUP", "10/hour"),
        "login": env_str("RATE_LIMIT_LOGIN", "30/hour"),
        "login_user": env_str("RATE_LIMIT_LOGIN_USER", "10/hour"),
        "feedback": env_str("RATE_LIMIT_FEEDBACK", "30/hour"),
        "tag": env_str("RATE_LIMIT_TAG", "60/hour"),
        "question": env_str("RATE_LIMIT_QUESTION", "300/hour"),
    },
    # Trust X-Forwarded-For only as far as our own proxies wrote it (see ZOOLOOP_TRUSTED_PROXIES).
    "NUM_PROXIES": ZOOLOOP_TRUSTED_PROXIES,
    "DEFAULT_PARSER_CLASSES": ["zooapp.api.BoundedJSONParser",
                               "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "EXCEPTION_HANDLER": "zooapp.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "zooloop API",
    "DESCRIPTION": "Classify galaxies, read aggregations, export catalogues.",
    "VERSION": "0.1.0",
}

# Celery: the embedded default is kombu's filesystem transport (no server needed);
# set CELERY_BROKER_URL=redis://... or amqp://... in production.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "broker" / "out"),
        "data_folder_out": str(VAR_DIR / "broker" / "out"),
        "processed_folder": str(VAR_DIR / "broker" / "processed"),
        "control_folder": str(VAR_DIR / "broker" / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for another worker
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ROUTES = {
    "zooapp.tasks.aggregate_*": {"queue": "aggregation"},
    "zooapp.tasks.recompute_*": {"queue": "aggregation"},
    "zooapp.tasks.export_*": {"queue": "exports"},
    "zooapp.tasks.import_*": {"queue": "exports"},
    "zooapp.tasks.train_*": {"queue": "ml"},
    "zooapp.tasks.predict_*": {"queue": "ml"},
}
CELERY_BEAT_SCHEDULE = {
    "sweep-unaggregated": {"task": "zooapp.tasks.aggregate_sweep",
                           "schedule": float(env_int("AGGREGATE_SWEEP_SECONDS", 30))},
    "retrain-models": {"task": "zooapp.tasks.train_sweep", "schedule": float(env_int("RETRAIN_EVERY_SECONDS", 3600))},
    "clear-expired-sessions": {"task": "zooapp.tasks.sessions_clear",
                               "schedule": float(env_int("SESSION_CLEAR_SECONDS", 86400))},
}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_HTTPS_PROXY", False) else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Every script is an ES module or a file from /static/, and page data comes in json_script blocks
# (JSON that browsers never execute), so no 'unsafe-inline' is needed for scripts or styles.
# MEDIA_ORIGIN: the object store's origin when media is not served from this site (e.g. an S3 bucket).
MEDIA_ORIGIN = env_str("MEDIA_ORIGIN", "")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    f"img-src 'self' data: blob: {MEDIA_ORIGIN}; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'").replace(" ;", ";")
# Swagger UI (/api/docs/) loads its scripts from a CDN and starts them with an inline script.
CONTENT_SECURITY_POLICY_API_DOCS = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
                                    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
                                    "img-src 'self' data: https://cdn.jsdelivr.net; object-src 'none'; "
                                    "frame-ancestors 'none'")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
