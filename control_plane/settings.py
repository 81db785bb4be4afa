"""The control plane's settings, read from the environment in one place."""

import os
from dataclasses import dataclass

from environs import Env
from marshmallow import validate

from common.client_address import LOOPBACK, IpNetwork, parse_trusted_proxies
from common.redis import MAX_CONNECTIONS, POOL_TIMEOUT_SECONDS
from common.settings import (
    APP_ORIGINS,
    StoreSettings,
    app_origins,
    environment,
    kafka_bootstrap,
    listening,
    stores,
)
from contracts.sessions import SESSION_TTL_SECONDS
from contracts.topics import Topic
from control_plane.retention import MAX_RAW_RETENTION_DAYS


@dataclass(frozen=True, slots=True)
class Settings(StoreSettings):
    """The shared stores' fields (``StoreSettings``: each shard's database, Redis), then the
    control plane's own. New projects are placed on the least loaded shard; access
    requests, exports and usage read a project's rows from its shard's database."""

    kafka_bootstrap: str
    host: str = "127.0.0.1"
    port: int = 8081
    # SO_REUSEPORT when serving alone (python -m control_plane; common.settings.listening).
    reuse_port: bool = False
    control_topic: str = Topic.CONTROL.value
    # Cookie-authenticated writes must come from this origin (the App API's own).
    app_origins: tuple[str, ...] = APP_ORIGINS
    # Always mark the cookie Secure (it is anyway when the request came over HTTPS).
    cookie_secure: bool = False
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (default loopback).
    trusted_proxies: tuple[IpNetwork, ...] = parse_trusted_proxies(LOOPBACK)
    session_ttl_seconds: int = SESSION_TTL_SECONDS
    cli_token_ttl_seconds: int = 600
    login_window_seconds: int = 900
    # Failed logins per window: for one account from one address, for one account from
    # everywhere (a looser ceiling), from one address over all accounts.
    login_failures_per_account_address: int = 10
    login_failures_per_account: int = 100
    login_failures_per_ip: int = 50
    signup_window_seconds: int = 3600
    signups_per_address: int = 20
    signups_total: int = 1000
    reset_window_seconds: int = 3600
    resets_per_address: int = 10
    resets_per_email: int = 3
    # New projects start on this plan; only operators choose another or change it.
    default_plan: str = "free"
    # Exports and access requests streaming at once (each holds a database connection for
    # as long as it streams); one more is answered 503 + Retry-After.
    export_concurrency: int = 2
    # Account e-mails (confirmations, password resets, invitations): sent over SMTP when
    # ``smtp_url`` is set, else written as files to ``mail_dir`` (development).
    smtp_url: str | None = None
    mail_dir: str = ".local/mail"
    mail_from: str = "realanalytics <no-reply@localhost>"
    public_url: str = "http://127.0.0.1:8081"
    confirm_token_ttl_seconds: int = 2 * 24 * 3600
    reset_token_ttl_seconds: int = 3600
    invitation_ttl_seconds: int = 7 * 24 * 3600
    # argon2id cost: OWASP's second option (19 MiB, t=2); tests lower it.
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19 * 1024
    relay_enabled: bool = True
    relay_poll_seconds: float = 1.0
    db_pool_size: int = 8
    # Under load: wait this long for a pooled connection, then answer 503 + Retry-After.
    db_pool_timeout_seconds: float = 5.0
    redis_max_connections: int = MAX_CONNECTIONS
    redis_pool_timeout_seconds: float = POOL_TIMEOUT_SECONDS
    # Password hashes (argon2id: CPU and 19 MiB each) run at most this many at once, with
    # at most ``password_hash_queue`` more waiting; beyond that a login or sign-up is 503.
    password_hash_concurrency: int = 2
    password_hash_queue: int = 32
    # The longest raw-event retention a project's owner may set (``rawRetentionDays``);
    # at most the database's own bound (migrations/0038_raw_retention.sql).
    max_raw_retention_days: int = 1825


def load_settings(env: Env | None = None) -> Settings:
    env = environment(env)
    address = listening(env, "RA_APP", 8081)
    origins = app_origins(env)
    return Settings(
        **stores(env),
        **address,
        kafka_bootstrap=kafka_bootstrap(env),
        control_topic=env.str("RA_CONTROL_TOPIC", Topic.CONTROL.value),
        app_origins=origins,
        cookie_secure=env.bool("RA_COOKIE_SECURE", False),
        trusted_proxies=parse_trusted_proxies(env.str("RA_TRUSTED_PROXIES", LOOPBACK)),
        session_ttl_seconds=env.int("RA_SESSION_TTL_SECONDS", SESSION_TTL_SECONDS),
        cli_token_ttl_seconds=env.int("RA_CLI_TOKEN_TTL_SECONDS", 600),
        login_window_seconds=env.int("RA_LOGIN_WINDOW_SECONDS", 900),
        login_failures_per_account_address=env.int("RA_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS", 10),
        login_failures_per_account=env.int("RA_LOGIN_FAILURES_PER_ACCOUNT", 100),
        login_failures_per_ip=env.int("RA_LOGIN_FAILURES_PER_IP", 50),
        signup_window_seconds=env.int("RA_SIGNUP_WINDOW_SECONDS", 3600),
        signups_per_address=env.int("RA_SIGNUPS_PER_ADDRESS", 20),
        signups_total=env.int("RA_SIGNUPS_TOTAL", 1000),
        reset_window_seconds=env.int("RA_RESET_WINDOW_SECONDS", 3600),
        resets_per_address=env.int("RA_RESETS_PER_ADDRESS", 10),
        resets_per_email=env.int("RA_RESETS_PER_EMAIL", 3),
        default_plan=env.str("RA_DEFAULT_PLAN", "free"),
        export_concurrency=env.int("RA_EXPORT_CONCURRENCY", 2),
        smtp_url=env.str("RA_SMTP_URL", None),
        mail_dir=env.str("RA_MAIL_DIR", ".local/mail"),
        mail_from=env.str("RA_MAIL_FROM", "realanalytics <no-reply@localhost>"),
        public_url=env.str(
            "RA_PUBLIC_URL", origins[0] if origins else f"http://127.0.0.1:{address['port']}"
        ),
        relay_enabled=env.bool("RA_OUTBOX_RELAY", True),
        relay_poll_seconds=env.float("RA_OUTBOX_POLL_SECONDS", 1.0),
        db_pool_size=env.int("RA_CONTROL_DB_POOL_SIZE", 8),
        db_pool_timeout_seconds=env.float("RA_CONTROL_DB_POOL_TIMEOUT_SECONDS", 5.0),
        redis_max_connections=env.int("RA_REDIS_MAX_CONNECTIONS", MAX_CONNECTIONS),
        redis_pool_timeout_seconds=env.float("RA_REDIS_POOL_TIMEOUT_SECONDS", POOL_TIMEOUT_SECONDS),
        password_hash_concurrency=env.int("RA_PASSWORD_HASH_CONCURRENCY", os.cpu_count() or 2),
        password_hash_queue=env.int("RA_PASSWORD_HASH_QUEUE", 32),
        max_raw_retention_days=env.int(
            "RA_MAX_RAW_RETENTION_DAYS",
            1825,
            validate=validate.Range(1, MAX_RAW_RETENTION_DAYS),
        ),
    )
