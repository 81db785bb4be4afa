"""Account e-mails (confirmations, password resets, invitations), sent in the background.

A request never waits on the mail server: its answer would take as long as the delivery,
and a sign-up for a new address (a confirmation) and one for a known address (a notice)
would differ by it. With ``RA_SMTP_URL`` (``smtp://user:pass@host:587`` with STARTTLS,
``smtps://…`` for TLS) mail goes over SMTP; without it each message is written to
``RA_MAIL_DIR`` as an ``.eml`` file readable only by the server's user (development).
Nothing of a message is logged: it holds a one-time token.
"""

import asyncio
import logging
import os
import smtplib
import ssl
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

from control_plane.settings import Settings

logger = logging.getLogger(__name__)


def compose(sender: str, to: str, subject: str, text: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    return message


def write_file(directory: Path, message: EmailMessage) -> Path:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(message.as_bytes())
    return path


def send_smtp(url: str, message: EmailMessage, timeout: float = 30.0) -> None:
    parts = urlsplit(url)
    host, secure = parts.hostname or "localhost", parts.scheme == "smtps"
    port = parts.port or (465 if secure else 587)
    context = ssl.create_default_context()
    server: smtplib.SMTP
    if secure:
        server = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        server = smtplib.SMTP(host, port, timeout=timeout)
    with server:
        if not secure and server.has_extn("starttls"):
            server.starttls(context=context)
        if parts.username:
            server.login(unquote(parts.username), unquote(parts.password or ""))
        server.send_message(message)


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pending: set[asyncio.Task[None]] = set()

    def send(self, to: str, subject: str, text: str) -> None:
        message = compose(self._settings.mail_from, to, subject, text)
        task = asyncio.create_task(self._deliver(message), name="account-mail")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver(self, message: EmailMessage) -> None:
        smtp_url = self._settings.smtp_url
        try:
            if smtp_url:
                await asyncio.to_thread(send_smtp, smtp_url, message)
            else:
                await asyncio.to_thread(write_file, Path(self._settings.mail_dir), message)
        except Exception as exc:  # a lost mail is logged, never an error for the request
            logger.warning("account mail not delivered: %s", type(exc).__name__)

    async def drain(self) -> None:
        """Wait for the messages still being sent (at shutdown, and in tests)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


def confirmation(public_url: str, token: str) -> tuple[str, str]:
    return (
        "Confirm your realanalytics account",
        "Someone (we hope you) signed up for realanalytics with this address.\n\n"
        f"To confirm it, run\n\n    realanalytics --url {public_url} confirm {token}\n\n"
        f'or POST {{"token": "{token}"}} to {public_url}/api/auth/confirm.\n'
        "The code works once, for two days. If it was not you, ignore this message.\n",
    )


def already_registered(public_url: str) -> tuple[str, str]:
    return (
        "You already have a realanalytics account",
        "Someone (we hope you) tried to sign up for realanalytics with this address, which\n"
        "already has an account. Log in instead; if you forgot the password, run\n\n"
        f"    realanalytics --url {public_url} password-reset --email <this address>\n\n"
        "If it was not you, ignore this message: nothing was changed.\n",
    )


def password_reset(public_url: str, token: str) -> tuple[str, str]:
    return (
        "Reset your realanalytics password",
        f"To choose a new password, run\n\n    realanalytics --url {public_url}"
        f" password-reset --token {token}\n\n"
        f'or POST {{"token": "{token}", "password": "…"}} to'
        f" {public_url}/api/auth/password-reset/confirm.\n"
        "The code works once, for one hour. If you did not ask for it, ignore this message.\n",
    )


def invitation(public_url: str, project: str, role: str, token: str) -> tuple[str, str]:
    return (
        f"You are invited to the realanalytics project {project}",
        f"You were invited to join the project {project} as {role}.\n\n"
        "Sign up or log in with this address, then run\n\n"
        f"    realanalytics --url {public_url} invitations accept {token}\n\n"
        f'or POST {{"token": "{token}"}} to {public_url}/api/invitations/accept.\n'
        "The invitation works once, for seven days, and only for this address.\n",
    )
