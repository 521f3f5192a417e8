"""Django settings: everything comes from environment variables (see docs/operations.md).

| variable | meaning | default |
|---|---|---|
| WITNESS_HOME | data folder: SQLite database, secret key, blobs, agency profiles | ./var |
| DATABASE_URL (or _FILE) | sqlite:///path or postgres://user:pw@host/db | WITNESS_HOME SQLite |
| WITNESS_SECRET_KEY (or _FILE) | Django secret key | generated once into WITNESS_HOME |
| WITNESS_DEBUG | development mode | false |
| WITNESS_ALLOWED_HOSTS | comma-separated host names | 127.0.0.1,localhost |
| WITNESS_TIME_ZONE | local time zone for display and day boundaries | Asia/Shanghai |
| WITNESS_SESSION_MINUTES | idle session timeout | 30 |
| WITNESS_LOCKOUT_FAILURES | failed log-ins in a row that lock a user name | 5 |
| WITNESS_LOCKOUT_MINUTES | lock length; also the longest gap between counted failures | 15 |
| WITNESS_PASSWORD_MAX_DAYS | a password older than this must be changed at the next log-in | 90 |
| WITNESS_OTP_ISSUER | the name authenticator apps show for the second factor | 见证 Witness |
| WITNESS_STORAGE | originals: file:///path or s3://bucket?endpoint=URL | WITNESS_HOME/blobs |
| WITNESS_S3_ACCESS_KEY, _SECRET_KEY (or _FILE) | keys for an s3:// WITNESS_STORAGE | |
| WITNESS_REPLICA | second copy of the originals: file:///path or s3://bucket?endpoint=URL | none |
| WITNESS_REPLICA_S3_ACCESS_KEY, _SECRET_KEY (or _FILE) | keys of an s3:// replica | the primary's |
| WITNESS_FIXITY_DAYS | every original re-read once per this many days | 30 |
| WITNESS_AUDIT_ALGORITHM | checkpoint signatures: ed25519 or sm2 | ed25519 |
| WITNESS_AUDIT_KEY | checkpoint signing key (made on first use) | WITNESS_HOME/audit-signing.key |
| WITNESS_AUDIT_CHECKPOINT_SECONDS | seconds between periodic checkpoints | 300 |
"""

from pathlib import Path

from django.utils.translation import gettext_lazy as _

from witness.conf import env

BASE_DIR = Path(__file__).resolve().parent

WITNESS_HOME = env.env_path("WITNESS_HOME", "./var")
WITNESS_HOME.mkdir(parents=True, exist_ok=True)
WITNESS_PROFILE_DIR = WITNESS_HOME / "profiles"

SECRET_KEY = env.secret_key(WITNESS_HOME)
DEBUG = env.env_bool("WITNESS_DEBUG", False)
ALLOWED_HOSTS = env.env_list("WITNESS_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.env_list("WITNESS_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tasks",
    "django_tasks_db",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "drf_spectacular",
    # ground floor
    "witness.audit",
    "witness.findings",
    "witness.storage",
    # floor 1
    "witness.org",
    "witness.profiles",
    # floor 2
    "witness.devices",
    "witness.activities",
    # floor 3
    "witness.recordings",
    # floor 4
    "witness.ingest",
    "witness.derivatives",
    "witness.station",
    # floor 5: who may see what
    "witness.access",
    "witness.confidentiality",
    "witness.accounts",
    # floor 6: the duty to record, checked; the annual review
    "witness.compliance",
    "witness.review",
    "witness.evidence",
    "witness.retention",
    "witness.preservation",
    # top
    "witness.web",
    "witness.api",
    "witness.cli",
    "witness.demo",
]

MIDDLEWARE = [
    "witness.core.middleware.ContentSecurityPolicyMiddleware",  # outermost: every response
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "witness.accounts.sessions.IdleSessionMiddleware",  # idle timeout, saved once a minute
    "witness.core.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "witness.accounts.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "witness.audit.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "witness.urls"
WSGI_APPLICATION = "witness.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "witness.web.context.navigation",
            ],
        },
    },
]

DATABASES = {"default": env.env_database(WITNESS_HOME)}
# Persistent connections (seconds) for PostgreSQL; tests use 0 so that no connection
# outlives the live-server threads that opened it.
DATABASES["default"]["CONN_MAX_AGE"] = env.env_int(
    "WITNESS_DB_CONN_MAX_AGE", DATABASES["default"].get("CONN_MAX_AGE", 0), minimum=0)
# the audit append as a server-side prepared statement (PostgreSQL; off behind a pooler in
# transaction mode that does not track prepared statements — docs/audit-log.md)
WITNESS_AUDIT_PREPARED = env.env_bool("WITNESS_AUDIT_PREPARED", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Passwords are hashed with Argon2id; PBKDF2 (Django's default, used before) still verifies
# older hashes, which are re-hashed with Argon2 at the next successful log-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# Login failure handling (GB/T 22239-2019 level 3): every password check goes through the
# lock of witness/web/lockout.py. Failed log-ins in a row for one user name, each within
# WITNESS_LOCKOUT_MINUTES of the one before, lock that name for WITNESS_LOCKOUT_MINUTES.
AUTHENTICATION_BACKENDS = ["witness.web.lockout.LockoutBackend"]
WITNESS_LOCKOUT_FAILURES = env.env_int("WITNESS_LOCKOUT_FAILURES", 5, minimum=1, maximum=100)
WITNESS_LOCKOUT_MINUTES = env.env_int("WITNESS_LOCKOUT_MINUTES", 15, minimum=1,
                                      maximum=24 * 60)
# Accounts (issue 5 item 6, witness/accounts): TOTP second factor (django-otp) required for
# the three administrators, bureau leaders and custodians; wrong codes count towards the
# lock above (so django-otp's own growing delay is off); passwords older than
# WITNESS_PASSWORD_MAX_DAYS must be changed; at least 3 of 4 character classes.
OTP_TOTP_ISSUER = env.env_str("WITNESS_OTP_ISSUER", "见证 Witness")
OTP_TOTP_THROTTLE_FACTOR = 0
WITNESS_PASSWORD_MAX_DAYS = env.env_int("WITNESS_PASSWORD_MAX_DAYS", 90, minimum=1,
                                        maximum=3650)
AUTH_PASSWORD_VALIDATORS.append(
    {"NAME": "witness.accounts.validators.CharacterClassValidator",
     "OPTIONS": {"min_classes": 3, "passphrase_length": 20}})
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_AGE = env.env_int("WITNESS_SESSION_MINUTES", 30, minimum=1, maximum=24 * 60) * 60
# idle timeout, not absolute: witness.accounts.sessions moves the expiry forward, at most
# once a minute, instead of SESSION_SAVE_EVERY_REQUEST's write on every request
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

# Source strings are English; Chinese (zh-hans) is the first language.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env.env_timezone("WITNESS_TIME_ZONE", "Asia/Shanghai")
USE_TZ = True  # stored in UTC, shown in TIME_ZONE

STATIC_URL = "static/"
# The audit log's checkpoint signing key (issue 4): Ed25519, or SM2 for 密评.
WITNESS_AUDIT_ALGORITHM = env.env_choice("WITNESS_AUDIT_ALGORITHM", "ed25519",
                                         ("ed25519", "sm2"))
WITNESS_AUDIT_KEY = env.env_path("WITNESS_AUDIT_KEY", str(WITNESS_HOME / "audit-signing.key"))
WITNESS_AUDIT_CHECKPOINT_SECONDS = env.env_int("WITNESS_AUDIT_CHECKPOINT_SECONDS", 300,
                                               minimum=1)

# A second copy of every original (issue 4; same URL forms as WITNESS_STORAGE; empty: none)
# and the fixity period: every original re-read once per this many days.
WITNESS_REPLICA = env.env_str("WITNESS_REPLICA", "")
WITNESS_FIXITY_DAYS = env.env_int("WITNESS_FIXITY_DAYS", 30, minimum=1)

# Uploads beyond 2.5 MB are written here, on the same file system as the upload folders
# of witness.ingest.uploads, which hard-link them instead of copying.
FILE_UPLOAD_TEMP_DIR = WITNESS_HOME / "uploads"
FILE_UPLOAD_TEMP_DIR.mkdir(exist_ok=True)
STATIC_ROOT = WITNESS_HOME / "static"  # `witness collectstatic` target for a front proxy
STATIC_ROOT.mkdir(exist_ok=True)
# Blob store for originals: "" / file:///abs/path / s3://bucket?endpoint=… (witness/storage/
# config.py interprets it at first use).
WITNESS_STORAGE = env.env_str("WITNESS_STORAGE", "")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(WITNESS_HOME / "files")}},
    # ?v=<content digest> on every {% static %} address (witness/web/staticfiles.py)
    "staticfiles": {"BACKEND": "witness.web.staticfiles.VersionedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_MAX_AGE = 365 * 24 * 3600  # addresses change with the content (see above)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.env_str("WITNESS_LOG_LEVEL", "INFO")},
}

# The REST API (issue 5 item 7; witness/api, docs/api.md). DRF is used without being an
# installed app (its catalogue would override Django's form messages): JSON only, no
# browsable API, no metadata for OPTIONS; token (SHA-256-stored, witness.api.models) or
# session authentication with CSRF; one permission class mapping every operation to a
# policy action (witness.access); cursor pages (no COUNT); errors {"error": {code, zh, en}}.
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "witness.api.authentication.BearerTokenAuthentication",
        "witness.api.authentication.CsrfSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["witness.api.permissions.PolicyPermission"],
    "DEFAULT_PAGINATION_CLASS": "witness.api.pagination.Cursor",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "witness.api.errors.exception_handler",
    "DEFAULT_METADATA_CLASS": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "UNICODE_JSON": True,
    "COERCE_DECIMAL_TO_STRING": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Witness API",
    "DESCRIPTION": "见证 Witness: devices, the issue/return ledger, cases, activities and "
                   "recording metadata (issue 5 item 7). See docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": True,
    "SERVE_PERMISSIONS": ["witness.api.permissions.PolicyPermission"],
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"DeviceKindEnum": "witness.devices.models.DeviceKind",
                            "MediaKindEnum": "witness.recordings.models.MediaKind",
                            "DeviceStatusEnum": "witness.devices.models.DeviceStatus",
                            "CaseStatusEnum": "witness.activities.models.CaseStatus"},
    "PREPROCESSING_HOOKS": ["witness.api.schema.only_api"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "witness.api.schema.error_responses"],
}
