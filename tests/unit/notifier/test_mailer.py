"""The bytes the notifier sends are the message `build_message` describes: the same headers,
the same two UTF-8 parts, whatever the language of the subject and body."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage, Message

import pytest

from services.notifier.mailer import Outgoing, RenderedEmail, build_message, outgoing, render

SENDER = "Cổng Dịch vụ công tỉnh Hà Tĩnh <no-reply@dichvucong.hatinh.gov.vn>"
HEADERS = ("From", "To", "Subject", "Message-ID", "X-Portal-Message-Id")


def _parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _same_message(email_: RenderedEmail, recipient: str = "lan@example.vn") -> EmailMessage:
    sent = outgoing(SENDER, recipient, "4f1c0ffee", email_)
    assert isinstance(sent, Outgoing)
    assert sent.sender == "no-reply@dichvucong.hatinh.gov.vn" and sent.recipient == recipient
    ours = _parsed(sent.data)
    reference = _parsed(build_message(SENDER, recipient, "4f1c0ffee", email_).as_bytes())
    for name in HEADERS:
        assert ours[name] == reference[name], name
    assert ours.get_content_type() == "multipart/alternative"
    parts = list(ours.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    for kind in ("plain", "html"):
        mine, theirs = ours.get_body((kind,)), reference.get_body((kind,))
        assert mine is not None and theirs is not None
        assert mine.get_content() == theirs.get_content()
    assert ours.defects == [] and all(p.defects == [] for p in parts)
    return ours


def test_a_rendered_email_is_sent_as_build_message_describes_it() -> None:
    context = {"full_name": "<Đặng Thị Hoà>", "email": "hoa@example.vn", "code": "123456"}
    _same_message(render("password_reset", {**context, "valid_minutes": 30}))


@pytest.mark.parametrize(
    "subject",
    [
        "Hồ sơ " + "Đăng ký khai sinh kết hợp nhận cha, mẹ, con tại Ủy ban nhân dân xã " * 5,
        "Plain ASCII subject",
        "Mã: 😀 " * 20,  # four-byte characters never split across encoded words
    ],
)
def test_long_and_non_latin_subjects_fold_into_valid_lines(subject: str) -> None:
    rendered = RenderedEmail(subject=subject.strip(), text="Dòng một\n.dòng hai\n", html="<p>Ạ</p>")
    message = _same_message(rendered)
    assert message["Subject"] == subject.strip()
    sent = outgoing(SENDER, "lan@example.vn", "m", rendered)
    assert isinstance(sent, Outgoing)
    data = sent.data
    assert data.isascii()
    assert all(len(line) <= 78 for line in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")  # every line ends CRLF


def test_an_internationalized_recipient_goes_through_build_message() -> None:
    """aiosmtplib flattens that one as SMTPUTF8 requires."""
    rendered = RenderedEmail(subject="Chào", text="x", html="<p>x</p>")
    sent = outgoing(SENDER, "hoà@example.vn", "m", rendered)
    assert isinstance(sent, Message) and sent["To"] == "hoà@example.vn"


@pytest.mark.parametrize(
    "subject",
    [
        "Hồ sơ H01\r\nBcc: everyone@example.vn",
        "Plain\r\nBcc: everyone@example.vn",
        "A\nB",
        "x" * 90,
    ],
)
def test_a_subject_never_adds_a_header_or_an_overlong_line(subject: str) -> None:
    """Whatever a subject holds (text a template took from a procedure's name, say), the bytes
    carry it inside the Subject header: no line break of its own, no line over 78 columns."""
    rendered = RenderedEmail(subject=subject, text="x", html="<p>x</p>")
    sent = outgoing(SENDER, "lan@example.vn", "m", rendered)
    assert isinstance(sent, Outgoing)
    message = _parsed(sent.data)
    assert message["Bcc"] is None
    assert all(len(line) <= 78 for line in sent.data.split(b"\r\n"))
    head = sent.data.split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":", 1)[0] for line in head.split(b"\r\n") if not line.startswith(b" ")]
    assert names == [
        b"From",
        b"To",
        b"Subject",
        b"Date",
        b"Message-ID",
        b"X-Portal-Message-Id",
        b"MIME-Version",
        b"Content-Type",
    ]
