"""Settings for the team portal: one file, every knob read from the environment.

Every variable read here is listed in the README's configuration table. With DEBUG off the portal
refuses to start without a real SECRET_KEY and valid encryption keys, so a forgotten variable is a
clear start-up error instead of a quietly insecure install.
"""

import os
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    """Read a yes/no variable; '1', 'true', 'yes' and 'on' mean yes."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, not {value!r}.") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)

# Only used when DEBUG is on; production must set its own (checked below).
_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"
# A fixed Fernet key for development and tests only; production must set PORTAL_ENCRYPTION_KEYS.
_DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktcG9ydGFsLWtleS1ub3QtZm9yLXByb2Q="

SECRET_KEY = os.environ.get("SECRET_KEY", "").strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it to a long random string (for example the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`), or set DEBUG=1 "
            "for local development."
        )
    SECRET_KEY = _DEV_SECRET_KEY
elif not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak: use at least 50 characters with at least 5 distinct ones."
    )

ENCRYPTION_KEYS = env_list("PORTAL_ENCRYPTION_KEYS")
if not ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "PORTAL_ENCRYPTION_KEYS is not set. Generate a key with `python -c 'from "
            "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'` and set "
            "PORTAL_ENCRYPTION_KEYS to it (comma-separated, newest first, when rotating)."
        )
    ENCRYPTION_KEYS = [_DEV_ENCRYPTION_KEY]
for _position, _key in enumerate(ENCRYPTION_KEYS, start=1):
    try:
        Fernet(_key)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            f"PORTAL_ENCRYPTION_KEYS: key number {_position} is not a valid Fernet key "
            "(32 url-safe base64-encoded bytes)."
        ) from exc

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "accounts",
    "integrations",
    "portal",
]

MIDDLEWARE = [
    "portal.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.middleware.HtmxRedirectMiddleware",
    "portal.middleware.LastActiveMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.context_processors.team",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "").strip() or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Write transactions start with a write lock, so two requests refreshing the same OAuth token
    # take turns instead of both spending it; waiters wait up to 20 s instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
    # Tests use a real file (not memory), so a test can read the raw bytes for leaked tokens.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "").strip()
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "portal"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "credentials"
LOGOUT_REDIRECT_URL = "accounts:login"
# Sensitive actions ask for the password again when it was not entered within this time.
PORTAL_SUDO_SECONDS = int(os.environ.get("PORTAL_SUDO_SECONDS", "600"))
# How long an invitation link works.
PORTAL_INVITATION_DAYS = int(os.environ.get("PORTAL_INVITATION_DAYS", "7"))
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "portal@localhost")
# Off for private installs: only people invited by an owner (or made by an operator) get in.
PORTAL_OPEN_SIGNUP = env_bool("PORTAL_OPEN_SIGNUP", default=True)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Upstream APIs. The defaults are the real services; the sandbox (`manage.py sandbox`) prints the
# values that point the portal at itself instead.
PULSETRACKER_API_URL = os.environ.get("PULSETRACKER_API_URL", "https://www.pulsestracker.com/api")
PULSOID_API_URL = os.environ.get("PULSOID_API_URL", "https://dev.pulsoid.net/api/v1")
PULSOID_OAUTH_URL = os.environ.get("PULSOID_OAUTH_URL", "https://pulsoid.net/oauth2")
PULSOID_REVOKE_URL = os.environ.get("PULSOID_REVOKE_URL", "https://dev.pulsoid.net/oauth2/revoke")
# Pulsoid OAuth client ("Connect with Pulsoid"); without both, only pasted tokens can be linked.
PULSOID_CLIENT_ID = os.environ.get("PULSOID_CLIENT_ID", "").strip()
PULSOID_CLIENT_SECRET = os.environ.get("PULSOID_CLIENT_SECRET", "").strip()
PULSOID_WIDGET_VIEWER_URL = os.environ.get(
    "PULSOID_WIDGET_VIEWER_URL", "https://pulsoid.net/widget/view/"
)
# Refresh an OAuth token this many seconds before it expires.
PULSOID_REFRESH_MARGIN = int(os.environ.get("PULSOID_REFRESH_MARGIN", "120"))
# How often an open widget page asks the portal for the latest heart rate.
PULSOID_POLL_SECONDS = int(os.environ.get("PULSOID_POLL_SECONDS", "5"))
UPSTREAM_CONNECT_TIMEOUT = env_float("UPSTREAM_CONNECT_TIMEOUT", 3.05)
UPSTREAM_READ_TIMEOUT = env_float("UPSTREAM_READ_TIMEOUT", 10.0)
# Repeat views of the same upstream list within this many seconds are served from the cache.
UPSTREAM_CACHE_SECONDS = int(os.environ.get("UPSTREAM_CACHE_SECONDS", "30"))
UPSTREAM_MAX_BODY_BYTES = int(os.environ.get("UPSTREAM_MAX_BODY_BYTES", str(2 * 1024 * 1024)))

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "urllib3": {"level": "WARNING"},
    },
}
