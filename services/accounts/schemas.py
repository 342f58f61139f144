from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from services.kernel.errors import Text, register_field_messages

PASSWORD_MIN, PASSWORD_MAX = 8, 128
NAME_MAX = 100
CODE_MAX = 100
"""A 6-digit code or a link token (43 characters): the `code` fields take either."""
DEVICE_TOKEN_MAX = 200
_COMMON_PASSWORDS = frozenset(FREQUENCY_LISTS["passwords"])

register_field_messages(
    {
        "email_invalid": Text("Địa chỉ e-mail không hợp lệ.", "The e-mail address is invalid."),
        "password_too_short": Text(
            f"Mật khẩu phải có ít nhất {PASSWORD_MIN} ký tự.",
            f"The password must have at least {PASSWORD_MIN} characters.",
        ),
        "password_too_long": Text(
            f"Mật khẩu không được dài quá {PASSWORD_MAX} ký tự.",
            f"The password must have at most {PASSWORD_MAX} characters.",
        ),
        "password_too_common": Text(
            "Mật khẩu quá phổ biến, dễ bị đoán. Vui lòng chọn mật khẩu khác.",
            "This password is too common. Please choose another.",
        ),
        "phone_invalid": Text(
            "Số điện thoại không hợp lệ (9–15 chữ số).", "Invalid phone number (9–15 digits)."
        ),
        "id_number_invalid": Text(
            "Số CMND/CCCD không hợp lệ (9 hoặc 12 chữ số).",
            "Invalid identity number (9 or 12 digits).",
        ),
        "date_of_birth_invalid": Text("Ngày sinh không hợp lệ.", "The date of birth is invalid."),
        "text_blank": Text("Trường này không được để trống.", "This field must not be blank."),
        "text_not_one_line": Text(
            "Chỉ được gồm một dòng chữ, không có ký tự điều khiển.",
            "Must be one line of text, without control characters.",
        ),
        "password_required": Text(
            "Địa chỉ này có nhiều yêu cầu đăng ký: vui lòng nhập mật khẩu bạn đã chọn khi đăng ký.",
            "This address was registered more than once: enter the password you chose.",
        ),
        "password_mismatch": Text(
            "Mật khẩu không khớp với yêu cầu đăng ký nào của địa chỉ này.",
            "The password matches no registration of this address.",
        ),
        "agency_required": Text(
            "Cán bộ phải thuộc một cơ quan (agency_id).", "An officer needs an agency_id."
        ),
    }
)


def _email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise PydanticCustomError("email_invalid", "invalid e-mail address") from None


def _password(value: str) -> str:
    if len(value) < PASSWORD_MIN:
        raise PydanticCustomError("password_too_short", "password too short")
    if len(value) > PASSWORD_MAX:
        raise PydanticCustomError("password_too_long", "password too long")
    if value.lower() in _COMMON_PASSWORDS:
        raise PydanticCustomError("password_too_common", "password too common")
    return value


_NOT_IN_A_LINE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Control, format (bidi overrides, zero-width), surrogate, private-use and unassigned
characters, and line or paragraph separators."""


def _one_line(value: str) -> str:
    """One line of text: NFC, no character of `_NOT_IN_A_LINE` (tabs and line breaks are
    control characters), runs of spaces collapsed, trimmed, not blank."""
    value = unicodedata.normalize("NFC", value)
    if any(unicodedata.category(c) in _NOT_IN_A_LINE for c in value):
        raise PydanticCustomError("text_not_one_line", "not one line of text")
    value = " ".join(value.split())
    if not value:
        raise PydanticCustomError("text_blank", "blank")
    return value


def _phone(value: str) -> str:
    digits = re.sub(r"[\s.\-()]", "", value)
    if not re.fullmatch(r"\+?\d{9,15}", digits):
        raise PydanticCustomError("phone_invalid", "invalid phone")
    return digits


def _id_number(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"\d{9}|\d{12}", value):
        raise PydanticCustomError("id_number_invalid", "invalid id number")
    return value


def _birth_date(value: dt.date) -> dt.date:
    if not dt.date(1900, 1, 1) <= value <= dt.date.today():
        raise PydanticCustomError("date_of_birth_invalid", "invalid date of birth")
    return value


Email = Annotated[str, Field(max_length=320), AfterValidator(_email)]
NewPassword = Annotated[str, AfterValidator(_password)]
Name = Annotated[str, Field(max_length=NAME_MAX), AfterValidator(_one_line)]
"""A person's name: one line, trimmed, at most 100 characters (it is shown on pages and may
be greeted by in e-mails)."""
Phone = Annotated[str, Field(max_length=30), AfterValidator(_phone)]
IdNumber = Annotated[str, Field(max_length=20), AfterValidator(_id_number)]
Address = Annotated[str, Field(max_length=500), AfterValidator(_one_line)]
Code = Annotated[str, Field(min_length=1, max_length=CODE_MAX)]
DeviceToken = Annotated[str, Field(max_length=DEVICE_TOKEN_MAX)]
BirthDate = Annotated[dt.date, AfterValidator(_birth_date)]
Gender = Literal["male", "female", "other"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaptchaOut(BaseModel):
    captcha_id: str
    image: str = Field(description="data:image/png;base64,… URL of the captcha image")
    audio: str | None = Field(
        None,
        description="with `?audio=true`: data:audio/wav;base64,… URL of the same answer spoken "
        "(digits), for people who cannot read the image",
    )
    expires_in: int


class RegisterIn(Strict):
    email: Email
    password: NewPassword
    full_name: Name
    captcha_id: str = Field(max_length=300)
    captcha_answer: str = Field(max_length=32)
    phone: Phone | None = None
    gender: Gender | None = None
    date_of_birth: BirthDate | None = None
    id_number: IdNumber | None = None
    address: Address | None = None
    device_token: DeviceToken | None = Field(
        None, description="the device token of an earlier sign-in (or the portal_device cookie)"
    )


class Accepted(BaseModel):
    detail: str


class ActivateIn(Strict):
    email: Email
    code: Code = Field(description="the 6-digit code of the e-mail, or the token of its link")
    password: str | None = Field(
        None,
        max_length=PASSWORD_MAX,
        description="the password chosen when registering: needed when the address was "
        "registered more than once (then the registration it matches is activated)",
    )


class EmailIn(Strict):
    email: Email


class CodeRequestIn(EmailIn):
    """Ask for an activation or reset code again."""

    device_token: DeviceToken | None = Field(
        None, description="the device token of an earlier sign-in (or the portal_device cookie)"
    )


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str
    device_token: str | None = Field(
        None,
        description="a sign-in's answer only: give it back to /token (form field "
        "`device_token`, or the `portal_device` cookie set with it) so that failures of "
        "others do not hold this device back",
    )


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=1, max_length=200)


class ProfileOut(BaseModel):
    id: str
    email: str
    full_name: str
    gender: Gender | None
    date_of_birth: dt.date | None
    phone: str | None
    address: str | None
    id_number: str | None
    role: Literal["citizen", "officer", "admin"]
    agency_id: str | None


class ProfileUpdate(Strict):
    full_name: Name | None = None
    gender: Gender | None = None
    date_of_birth: BirthDate | None = None
    phone: Phone | None = None
    address: Address | None = None
    id_number: IdNumber | None = None


class PasswordChangeIn(Strict):
    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX)
    new_password: NewPassword


class PasswordResetConfirmIn(Strict):
    email: Email
    code: Code = Field(description="the 6-digit code of the e-mail, or the token of its link")
    new_password: NewPassword


class OfficerInviteIn(Strict):
    email: Email
    full_name: Name
    agency_id: str | None = Field(None, max_length=64)
    role: Literal["officer", "admin"] = "officer"


class OfficerOut(BaseModel):
    id: str
    email: str
    full_name: str
    role: str
    agency_id: str | None
