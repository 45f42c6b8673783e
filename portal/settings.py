"""Settings for the team portal: one file, every knob read from the environment.

Every variable read here is listed in the README's configuration table. With DEBUG off the portal
refuses to start without a real SECRET_KEY and valid encryption keys, so a forgotten variable is a
clear start-up error instead of a quietly insecure install.
"""

import os
from importlib.util import find_spec
from pathlib import Path

import dj_database_url
import structlog
from cryptography.fernet import Fernet
from csp.constants import NONCE
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
# Earlier signing keys, still accepted while a new SECRET_KEY takes over (comma-separated):
# sessions, password-reset and e-mail links signed with them keep working, and anything new is
# signed with SECRET_KEY. Remove them once what they signed has expired (README, Deploying).
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")

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
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "csp",
    # Accounts, second factors, sessions and single sign-on: django-allauth.
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    # Background jobs (integrations/watch.py): django-q2, see Q_CLUSTER.
    "django_q",
    # The API's schema and docs page (/api/v1/docs, served from static files).
    "ninja",
    "accounts",
    "integrations",
    "integrations.pulsetracker",
    "integrations.pulsoid",
    "portal",
]
# The API sandbox (`manage.py demo`, `manage.py sandbox`) is a development tool: an app only with
# DEBUG on, and only where its code is present (the Docker image and the package leave it out).
if DEBUG and find_spec("integrations.sandbox") is not None:
    INSTALLED_APPS.append("integrations.sandbox")

MIDDLEWARE = [
    "portal.observability.RequestIdMiddleware",
    "portal.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.PortalCSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.middleware.HtmxRedirectMiddleware",
    "portal.middleware.FreshPagesMiddleware",
    "portal.middleware.LastActiveMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
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
                # Whether single sign-on is on, and whether it is the only way in.
                "accounts.adapter.single_sign_on",
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
    # Tests use a real file (not memory), so a test can read the raw bytes for leaked tokens;
    # one per test run, so two runs at once on one machine never share (or drop) each other's.
    _run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or str(os.getpid())
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{_run[:12]}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "").strip()
if REDIS_URL:
    CACHES: dict[str, dict[str, object]] = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "portal"),
        }
    }
    # Sessions read from Redis and written through to the database: fast, shared by every
    # instance, and kept when Redis restarts.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    # Without Redis the cache is a table in the portal's own database (integrations' migrations
    # make it), shared by every worker and instance: the upstream cache's invalidation, log-in
    # throttling, the circuit breakers and the Pulsoid budgets hold for the whole deployment, not
    # per process. The backend is Django's database cache with an `incr` that keeps the entry's
    # expiry (integrations/cache.py). Sessions are in the database already.
    CACHES = {
        "default": {
            "BACKEND": "integrations.cache.PortalDatabaseCache",
            "LOCATION": "portal_cache",
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "portal"),
            # Django's 300 would start evicting live entries (throttling counts among them) on a
            # busy day; past this many, expired entries are removed first, then a third.
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        }
    }

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"
# Sensitive actions ask the person to confirm it is them (allauth's re-authentication: the
# password, or the second factor when they have one) when they last did more than this ago.
PORTAL_SUDO_SECONDS = int(os.environ.get("PORTAL_SUDO_SECONDS", "600"))
# How long an invitation link works.
PORTAL_INVITATION_DAYS = int(os.environ.get("PORTAL_INVITATION_DAYS", "7"))
# Any of Django's mail backends: smtp (the default without DEBUG), console (with DEBUG), file
# (one file per message in EMAIL_FILE_PATH), locmem or dummy, or a dotted path of one's own.
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
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
# Seconds before an SMTP server that does not answer counts as a failed send (an invitation
# then says so on the page; an alert is retried) instead of holding the request indefinitely.
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10.0) or None
# The file backend's folder (created when missing); that backend cannot send without one.
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", "").strip()
if EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend" and not EMAIL_FILE_PATH:
    raise ImproperlyConfigured(
        "EMAIL_BACKEND is the file backend: set EMAIL_FILE_PATH to the folder for its messages."
    )
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "portal@localhost")
# Anyone may sign up only when this is on (the default in development); otherwise people come in
# through an owner's invitation (or an operator makes them).
PORTAL_OPEN_SIGNUP = env_bool("PORTAL_OPEN_SIGNUP", default=DEBUG)
# Joining a team through an invitation waits until the person has verified their email address.
PORTAL_REQUIRE_VERIFIED_EMAIL = env_bool("PORTAL_REQUIRE_VERIFIED_EMAIL", default=False)
AUTHENTICATION_BACKENDS = [
    "allauth.account.auth_backends.AuthenticationBackend",
    # Sessions from before allauth name this backend; every log-in form is allauth's (the admin's
    # too, see portal/urls.py), so nothing logs in through it without allauth's throttling.
    "django.contrib.auth.backends.ModelBackend",
]

# django-allauth: people log in with their email address; there is no username.
ACCOUNT_ADAPTER = "accounts.adapter.PortalAccountAdapter"
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# Verification mails go out on sign-up and email change; logging in does not wait for them.
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_SESSION_REMEMBER = True
# A password-reset link works once, and for an hour.
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_RESET_SECONDS", "3600"))
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_REAUTHENTICATION_TIMEOUT = PORTAL_SUDO_SECONDS
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Pulse team portal] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
# Log-in throttling is allauth's (the one mechanism): five failed log-ins for one address lock
# that account for fifteen minutes, even with the right password, and an address that fails
# twenty times a minute is stopped whatever account it tries. The address is REMOTE_ADDR, or the
# client behind TRUSTED_PROXY_COUNT proxies (ALLAUTH_TRUSTED_PROXY_COUNT below).
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
LOGIN_LOCKOUT_MINUTES = int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15"))
ACCOUNT_RATE_LIMITS = {
    "login_failed": f"20/m/ip,{LOGIN_FAILURE_LIMIT}/{LOGIN_LOCKOUT_MINUTES * 60}s/key",
}
# Second factors: authenticator apps (TOTP), security keys and passkeys (WebAuthn), and
# recovery codes.
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_ADAPTER = "accounts.adapter.PortalMFAAdapter"
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = "Pulse team portal"
# WebAuthn needs a secure origin; in development the portal runs on http://localhost.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
USERSESSIONS_TRACK_ACTIVITY = True
SOCIALACCOUNT_ONLY = False
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    # Older hashes still verify, and are upgraded to Argon2 at the next log-in.
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Single sign-on with any OpenID Connect provider (allauth's `openid_connect`), on when the
# issuer, client id and client secret are all set. The provider must accept the redirect URI
# <portal URL>/accounts/oidc/sso/login/callback/ (README, Single sign-on). The secret lives only
# in SOCIALACCOUNT_PROVIDERS, where allauth reads it; error reports hide its "secret" key.
PORTAL_OIDC_ISSUER = os.environ.get("PORTAL_OIDC_ISSUER", "").strip().rstrip("/")
PORTAL_OIDC_CLIENT_ID = os.environ.get("PORTAL_OIDC_CLIENT_ID", "").strip()
PORTAL_OIDC_NAME = os.environ.get("PORTAL_OIDC_NAME", "").strip() or "single sign-on"
# Only the provider lets people in: no password log-in or sign-up, no passkey log-in. Not
# allauth's SOCIALACCOUNT_ONLY (kept off above): that one refuses to run beside allauth.mfa
# (a critical system check stops `migrate`), wants ACCOUNT_EMAIL_VERIFICATION "none", and
# removes the email, password and re-authentication pages the portal's menu and sensitive
# actions link to. The account adapter enforces it instead (accounts/adapter.py).
PORTAL_SSO_ONLY = env_bool("PORTAL_SSO_ONLY", default=False)
SOCIALACCOUNT_ADAPTER = "accounts.adapter.PortalSocialAccountAdapter"
SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, object]] = {}
_oidc_secret = os.environ.get("PORTAL_OIDC_CLIENT_SECRET", "").strip()
if PORTAL_OIDC_ISSUER and PORTAL_OIDC_CLIENT_ID and _oidc_secret:
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {
        "APPS": [
            {
                "provider_id": "sso",
                "name": PORTAL_OIDC_NAME,
                "client_id": PORTAL_OIDC_CLIENT_ID,
                "secret": _oidc_secret,
                "settings": {
                    # Discovery at <issuer>/.well-known/openid-configuration.
                    "server_url": PORTAL_OIDC_ISSUER,
                    "scope": ["openid", "email", "profile"],
                    # PKCE (RFC 7636) on the code exchange; providers without it ignore it.
                    "oauth_pkce_enabled": True,
                },
            }
        ]
    }
elif PORTAL_OIDC_ISSUER or PORTAL_OIDC_CLIENT_ID or _oidc_secret:
    raise ImproperlyConfigured(
        "Single sign-on needs all three of PORTAL_OIDC_ISSUER, PORTAL_OIDC_CLIENT_ID and "
        "PORTAL_OIDC_CLIENT_SECRET; set the missing ones, or none to turn it off."
    )
del _oidc_secret
if PORTAL_SSO_ONLY and not SOCIALACCOUNT_PROVIDERS:
    raise ImproperlyConfigured(
        "PORTAL_SSO_ONLY is on but single sign-on is not configured (PORTAL_OIDC_ISSUER, "
        "PORTAL_OIDC_CLIENT_ID, PORTAL_OIDC_CLIENT_SECRET): nobody could log in."
    )
if PORTAL_SSO_ONLY:
    MFA_PASSKEY_LOGIN_ENABLED = False
# An address counts as verified only when the provider says so: allauth's openid_connect reads
# the `email_verified` claim (true, or the string "true"; absent means no) from the userinfo
# answer, else from the ID token. A verified address that matches a person logs into that
# person's account and links the provider to it from then on. If that person's own address was
# never verified here, allauth removes their password and ends their other sessions (someone
# may have signed up with an address that is not theirs).
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
# A first log-in makes the account at once when the provider gave a usable address and sign-up
# is open to this person (accounts/adapter.py); otherwise allauth asks for an address first.
SOCIALACCOUNT_AUTO_SIGNUP = True
# The portal does not keep the provider's access or refresh tokens.
SOCIALACCOUNT_STORE_TOKENS = False
# (The log-in page's single sign-on button posts to the portal, which redirects to the provider:
# PortalCSPMiddleware adds the issuer's origin to the pages' CSP form-action.)

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
# Maps of devices: the tile server (any {z}/{x}/{y} URL; its origin joins the CSP's img-src) and
# the attribution it requires (HTML). Markers and tracks draw even when tiles cannot load.
PULSETRACKER_MAP_TILES_URL = os.environ.get(
    "PULSETRACKER_MAP_TILES_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
)
PULSETRACKER_MAP_ATTRIBUTION = os.environ.get(
    "PULSETRACKER_MAP_ATTRIBUTION",
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
)
# How often an open app page asks the portal for its devices' positions (0: never).
PULSETRACKER_MAP_POLL_SECONDS = int(os.environ.get("PULSETRACKER_MAP_POLL_SECONDS", "10"))
# A device not heard from for longer than this is marked "stale".
PULSETRACKER_STALE_MINUTES = int(os.environ.get("PULSETRACKER_STALE_MINUTES", "15"))
# Where devices send their positions (shown in an app's "Connect a device" panel).
PULSETRACKER_UDP_HOST = os.environ.get("PULSETRACKER_UDP_HOST", "udp-tracking.pulsestracker.com")
PULSETRACKER_UDP_PORT = int(os.environ.get("PULSETRACKER_UDP_PORT", "9506"))
PULSETRACKER_WEBSOCKET_URL = os.environ.get(
    "PULSETRACKER_WEBSOCKET_URL", "wss://ws-tracking.pulsestracker.com"
)
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
# After that, screens still paint what was last fetched at once, labelled with its age, and
# refresh themselves in place, for this long (integrations/cache.py `read`).
UPSTREAM_STALE_SECONDS = int(os.environ.get("UPSTREAM_STALE_SECONDS", str(24 * 3600)))
# A geofence event posted to the portal is refused when it was sent longer ago than this
# (or this far in the future): a captured event cannot be replayed later.
PULSETRACKER_WEBHOOK_WINDOW_SECONDS = int(
    os.environ.get("PULSETRACKER_WEBHOOK_WINDOW_SECONDS", "300")
)
# Threads per process for upstream calls made at once (integrations/fanout.py): a screen's calls
# share them with every other request of the process, and queue when all are busy.
UPSTREAM_THREADS = int(os.environ.get("UPSTREAM_THREADS", "32"))
UPSTREAM_MAX_BODY_BYTES = int(os.environ.get("UPSTREAM_MAX_BODY_BYTES", str(2 * 1024 * 1024)))

# Security. Production (DEBUG off) is strict by default; each knob can be set from the
# environment for unusual set-ups (see the README, Deploying).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# The CSRF token reaches htmx through the page (<body hx-headers>), so its cookie can be HttpOnly.
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
# Behind a load balancer that terminates TLS: how many proxies to trust for the client's
# address and scheme. 0 (the default) trusts none, so a forged X-Forwarded-For changes nothing.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


# Content-Security-Policy (django-csp): scripts only from the portal itself with a per-request
# nonce; never inline or eval'd. frame-src (Pulsoid's widget viewer, for the preview) and
# form-action (Pulsoid's consent page) are filled in per response by PortalCSPMiddleware.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# allauth reads the client's address (rate limits, the sessions page) from REMOTE_ADDR, or from
# X-Forwarded-For behind this many trusted proxies.
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

# Pacing and protecting the upstreams, shared across instances through the cache.
PULSOID_REQUESTS_PER_SECOND = int(os.environ.get("PULSOID_REQUESTS_PER_SECOND", "15"))
BREAKER_FAILURES = int(os.environ.get("BREAKER_FAILURES", "5"))
BREAKER_WINDOW_SECONDS = int(os.environ.get("BREAKER_WINDOW_SECONDS", "30"))
BREAKER_OPEN_SECONDS = int(os.environ.get("BREAKER_OPEN_SECONDS", "15"))

ADMINS = [("Operators", a) for a in env_list("ADMINS_EMAILS")]
DEFAULT_EXCEPTION_REPORTER_FILTER = "portal.logging.RedactingExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "portal.logging.RedactingExceptionReporter"
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", "portal@localhost")

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()


def _redact_event(logger: object, method: str, event: dict) -> dict:
    """Every text of a JSON log line redacted (portal.logging, loaded once logging starts)."""
    from portal.logging import redact_event

    return redact_event(logger, method, event)


# "json" (one object a line: time, level, logger, message, request_id, fields) or "plain".
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain" if DEBUG else "json").strip().lower()
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT is json or plain, not {LOG_FORMAT!r}.")
# Error reports to Sentry (tokens redacted before they leave): the project's DSN.
SENTRY_DSN = os.environ.get("SENTRY_DSN", "").strip()
SENTRY_ENVIRONMENT = os.environ.get("SENTRY_ENVIRONMENT", "production").strip()
# /metrics answers these networks, or a request with "Authorization: Bearer <this token>".
PORTAL_METRICS_ALLOW = env_list("PORTAL_METRICS_ALLOW", "127.0.0.1/32,::1/128")
PORTAL_METRICS_TOKEN = os.environ.get("PORTAL_METRICS_TOKEN", "").strip()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every record passes the redaction filter on its way out, whatever logged it, and carries
    # the id of the request that caused it.
    "filters": {
        "redact_tokens": {"()": "portal.logging.RedactTokens"},
        "request_id": {"()": "portal.logging.RequestIdFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        # structlog's formatter over the standard logging records: one JSON object a line.
        "json": {
            "()": "structlog.stdlib.ProcessorFormatter",
            "processor": structlog.processors.JSONRenderer(),
            "foreign_pre_chain": [
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),
                structlog.processors.format_exc_info,
                _redact_event,
            ],
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "redact_tokens"],
        },
        # No `require_debug_false`, unlike Django's default: a staging box run with DEBUG still
        # tells its operators (nothing is sent while ADMINS_EMAILS is empty, and DEBUG's default
        # backend only prints). The report is the same in both modes, and scrubbed in both: the
        # portal's reporter filter stays on under DEBUG (portal/logging.py).
        "mail_admins": {
            "level": "ERROR",
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["redact_tokens"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console", "mail_admins"], "level": LOG_LEVEL, "propagate": False},
        "urllib3": {"level": "WARNING"},
    },
}

# Background work: django-q2's cluster (`manage.py qcluster`, started by `make run`; its own
# process in production) runs the schedules of integrations/watch.py. The queue is the database
# (the "orm" broker): no Redis needed on the SQLite default, nothing lost on a restart, and with
# several clusters a due schedule is taken by one of them (its row is locked while it is).
Q_CLUSTER = {
    "name": "portal",
    "orm": "default",
    "workers": int(os.environ.get("PORTAL_WORKERS", "2")),
    "timeout": 240,
    "retry": 300,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 500,
    "poll": 1,
    "label": "Background jobs",
}
# Each credential is checked upstream this often unless its team chose otherwise.
PORTAL_CHECK_MINUTES = int(os.environ.get("PORTAL_CHECK_MINUTES", "15"))
# "Unreachable" is announced only after this long, so short outages page nobody.
PORTAL_UNREACHABLE_GRACE_MINUTES = int(os.environ.get("PORTAL_UNREACHABLE_GRACE_MINUTES", "30"))
# Activity older than this many days is pruned daily; 0 keeps everything.
PORTAL_ACTIVITY_RETENTION_DAYS = int(os.environ.get("PORTAL_ACTIVITY_RETENTION_DAYS", "0"))
# Requests a minute one API token may make (its upstream calls share each credential's budget).
PORTAL_API_REQUESTS_PER_MINUTE = int(os.environ.get("PORTAL_API_REQUESTS_PER_MINUTE", "120"))
