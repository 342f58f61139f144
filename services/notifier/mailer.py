"""Rendering (Jinja2, text and HTML parts) and sending (aiosmtplib, one connection kept open
per worker process and reused across messages)."""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape

from services.notifier.settings import NotifierSettings

log = logging.getLogger("portal.notifier.mailer")
TEMPLATES = Path(__file__).parent / "templates"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    auto_reload=False,  # templates are compiled once per process, not stat()ed per e-mail
)


class PermanentFailure(Exception):
    """Retrying cannot help: a 5xx answer, a template that cannot render."""


class TransientFailure(Exception):
    """Worth another try later: connection refused or lost, a timeout, a 4xx answer."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render(template: str, context: dict[str, Any]) -> RenderedEmail:
    try:
        return RenderedEmail(
            subject=" ".join(_env.get_template(f"{template}/subject.txt").render(context).split()),
            text=_env.get_template(f"{template}/body.txt").render(context),
            html=_env.get_template(f"{template}/body.html").render(context),
        )
    except TemplateError as exc:
        raise PermanentFailure(f"template {template}: {exc}") from exc


def build_message(sender: str, recipient: str, message_id: str, email: RenderedEmail) -> Message:
    """A multipart/alternative message, UTF-8 text and HTML. Built with the `email.mime`
    classes: flattening them costs about a millisecond, where `EmailMessage`'s header folding of
    Vietnamese subjects took twenty — most of a delivery's time."""
    name, address = parseaddr(sender)
    message = MIMEMultipart("alternative")
    message["From"] = formataddr((str(Header(name, "utf-8")), address)) if name else address
    message["To"] = recipient
    # typeshed takes str only; a compat32 message takes a Header, which encodes the subject
    message["Subject"] = Header(email.subject, "utf-8")  # type: ignore[assignment]
    message["Date"] = formatdate(localtime=False)
    domain = address.rsplit("@", 1)[-1] or "portal.local"
    message["Message-ID"] = f"<{message_id}@{domain}>"
    message["X-Portal-Message-Id"] = message_id
    message.attach(MIMEText(email.text, "plain", "utf-8"))
    message.attach(MIMEText(email.html, "html", "utf-8"))
    return message


@dataclass(frozen=True)
class Outgoing:
    """An e-mail ready for the SMTP conversation: the envelope and the message's bytes."""

    sender: str
    recipient: str
    data: bytes


@lru_cache(maxsize=16)
def _sender(sender: str) -> tuple[str, str]:
    """The envelope address and the From header of a configured sender (parsed once)."""
    name, address = parseaddr(sender)
    if name and not name.isascii():
        # one encoded word: mail readers join adjacent ones in a subject, not in a name
        word = base64.b64encode(name.encode()).decode()
        return address, f"=?utf-8?b?{word}?=\r\n <{address}>"
    return address, formataddr((name, address)) if name else address


def _encoded_words(text: str) -> str:
    """A header value as RFC 2047 base64 encoded words (each whole characters, 64 characters
    long at most), folded one per line; short printable ASCII text as it is. Anything else —
    a control character such as CR or LF, which would end the header, or a line longer than
    78 columns — is encoded: the bytes never carry a line break the text put there."""
    if text.isascii() and text.isprintable() and len(text) <= 68:
        return text
    words: list[str] = []
    chunk = b""
    for char in text:
        encoded = char.encode()
        if len(chunk) + len(encoded) > 39:  # 39 bytes: 52 base64 characters, 64 with =?…?=
            words.append(chunk.decode())
            chunk = b""
        chunk += encoded
    words.append(chunk.decode())
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(word.encode()).decode()}?=" for word in words)


def _base64_part(content_type: str, text: str) -> bytes:
    body = base64.encodebytes(text.encode()).replace(b"\n", b"\r\n")
    return (
        f'Content-Type: {content_type}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + body


def outgoing(
    sender: str, recipient: str, message_id: str, email: RenderedEmail
) -> Outgoing | Message:
    """What `build_message` builds, written straight to bytes: flattening the `email` classes'
    message took more CPU than the rest of an e-mail's sending (the generator walks, encodes
    and folds every header and part again). Same structure: multipart/alternative, a base64
    UTF-8 text part then an HTML part; the subject in encoded words. For a recipient the SMTP
    server must take as UTF-8 (an internationalized address), `build_message`'s message, which
    aiosmtplib flattens as SMTPUTF8 needs."""
    address, from_header = _sender(sender)
    if not recipient.isascii():
        return build_message(sender, recipient, message_id, email)
    domain = address.rsplit("@", 1)[-1] or "portal.local"
    boundary = f"=_{uuid.uuid4().hex}"
    head = (
        f"From: {from_header}\r\n"
        f"To: {recipient}\r\n"
        f"Subject: {_encoded_words(email.subject)}\r\n"
        f"Date: {formatdate(localtime=False)}\r\n"
        f"Message-ID: <{message_id}@{domain}>\r\n"
        f"X-Portal-Message-Id: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'
    )
    separator = f"--{boundary}\r\n".encode()
    return Outgoing(
        address,
        recipient,
        b"".join(
            (
                head.encode(),
                separator,
                _base64_part("text/plain", email.text),
                separator,
                _base64_part("text/html", email.html),
                f"--{boundary}--\r\n".encode(),
            )
        ),
    )


def _classify(exc: Exception) -> Exception:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        if codes and all(500 <= c < 600 for c in codes):
            return PermanentFailure(str(exc))
        return TransientFailure(str(exc))
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if 500 <= exc.code < 600:
            return PermanentFailure(f"{exc.code} {exc.message}")
        return TransientFailure(f"{exc.code} {exc.message}")
    return TransientFailure(f"{type(exc).__name__}: {exc}")


class Mailer:
    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings
        self._smtp: aiosmtplib.SMTP | None = None

    async def _connection(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            timeout=s.smtp_timeout,
            use_tls=s.smtp_tls,
            start_tls=s.smtp_starttls,
        )
        await smtp.connect()
        if s.smtp_username and s.smtp_password:
            await smtp.login(s.smtp_username, s.smtp_password)
        self._smtp = smtp
        return smtp

    async def close(self) -> None:
        if self._smtp is not None and self._smtp.is_connected:
            try:
                await self._smtp.quit()
            except aiosmtplib.SMTPException:
                self._smtp.close()
        self._smtp = None

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
        self._smtp = None

    async def send(self, message: Message | Outgoing) -> None:
        """Send on the kept connection; a connection the server closed while idle is reopened
        once. Raises PermanentFailure or TransientFailure."""
        for attempt in (1, 2):
            reused = self._smtp is not None and self._smtp.is_connected
            try:
                smtp = await self._connection()
                if isinstance(message, Outgoing):
                    await smtp.sendmail(message.sender, [message.recipient], message.data)
                else:
                    await smtp.send_message(message)
                return
            except aiosmtplib.SMTPServerDisconnected as exc:
                self._drop()
                if not (reused and attempt == 1):
                    raise TransientFailure(f"disconnected: {exc}") from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                self._drop()
                raise _classify(exc) from exc
            except asyncio.CancelledError:  # the attempt's timeout, mid-conversation
                self._drop()
                raise
