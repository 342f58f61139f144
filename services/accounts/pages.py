"""The few HTML pages the accounts API answers itself: where the links of its e-mails land
(activation, password reset, officer invitation) until the web pages take those links over
through the public base URL. Each link opens a form that changes something only when it is
sent (POST): a mail scanner that follows links activates nothing. Minimal on purpose: one
form, no script, no outside resource; Vietnamese, English with `Accept-Language: en`."""

from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse

from services.kernel.errors import Text

PAGE_HEADERS = {
    # the URL carries a token: it must not leave in a Referer, nor stay in a cache
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}

LAYOUT = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em">
<h1>{title}</h1>
{body}
</body></html>"""

ACTIVATE = Text("Kích hoạt tài khoản", "Activate the account")
ACTIVATED = Text("Kích hoạt tài khoản thành công", "Account activated")
ACTIVATION_FAILED = Text("Kích hoạt không thành công", "Activation failed")
ACTIVATION_LINK_BAD = Text(
    "Đường dẫn hoặc mã kích hoạt không đúng, đã được sử dụng hoặc đã hết hạn. Vui lòng yêu cầu "
    "gửi lại mã kích hoạt.",
    "The activation link or code is wrong, already used or expired. Please ask for a new one.",
)
CLICK_TO_ACTIVATE = Text(
    "Nhấn nút dưới đây để kích hoạt tài khoản {email}.",
    "Press the button below to activate the account {email}.",
)
CONTESTED = Text(
    "Địa chỉ này đã được đăng ký nhiều lần. Nhập mật khẩu bạn đã chọn khi đăng ký: chỉ yêu cầu "
    "đăng ký có mật khẩu đó được kích hoạt.",
    "This address was registered more than once. Enter the password you chose when "
    "registering: only the registration with that password is activated.",
)
PASSWORD_LABEL = Text("Mật khẩu bạn đã chọn khi đăng ký", "The password you chose")
PASSWORD_IF_ASKED = Text(
    "Mật khẩu bạn đã chọn khi đăng ký (chỉ cần khi được hỏi)",
    "The password you chose (only when asked)",
)
ACTIVATED_DETAIL = Text(
    "Tài khoản {email} đã được kích hoạt. Bạn có thể đăng nhập.",
    "The account {email} is activated. You can sign in.",
)

RESET = Text("Đặt mật khẩu mới", "Set a new password")
RESET_DONE = Text("Đã đặt mật khẩu mới", "New password set")
RESET_DONE_DETAIL = Text(
    "Mật khẩu mới của tài khoản {email} đã được lưu. Bạn có thể đăng nhập.",
    "The new password of {email} is saved. You can sign in.",
)
RESET_FAILED = Text("Không đặt được mật khẩu mới", "The password was not set")
RESET_LINK_BAD = Text(
    "Đường dẫn hoặc mã không đúng, đã được sử dụng hoặc đã hết hạn. Vui lòng yêu cầu mã mới "
    "(Quên mật khẩu).",
    "The link or code is wrong, already used or expired. Please ask for a new one.",
)
NEW_PASSWORD_LABEL = Text(
    "Mật khẩu mới (8–128 ký tự, không quá phổ biến)",
    "New password (8–128 characters, not a common one)",
)


def page(lang: str, title: Text, body: str, status: int = 200) -> HTMLResponse:
    html = LAYOUT.format(lang=lang, title=escape(title(lang)), body=body)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def message(lang: str, title: Text, detail: str, status: int) -> HTMLResponse:
    return page(lang, title, f"<p>{escape(detail)}</p>", status)


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{name}" value="{escape(value)}">'


def _error(text: str | None) -> str:
    return f'<p role="alert" style="color:#b71c1c"><b>{escape(text)}</b></p>' if text else ""


def activation_form(
    lang: str,
    action: str,
    email: str,
    code: str,
    *,
    password: str,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """One click; `password` is "required" (several registered the address), "optional" (a
    typed 6-digit code: not checked before the click) or "none"."""
    parts = [_error(error), f"<p>{escape(CLICK_TO_ACTIVATE(lang).format(email=email))}</p>"]
    if password == "required":
        parts.append(f"<p>{escape(CONTESTED(lang))}</p>")
    parts.append(f'<form method="post" action="{escape(action)}">')
    parts.append(_hidden("email", email) + _hidden("code", code))
    if password != "none":
        label = PASSWORD_LABEL if password == "required" else PASSWORD_IF_ASKED
        required = " required" if password == "required" else ""
        parts.append(
            f'<p><label for="password">{escape(label(lang))}</label><br>'
            f'<input id="password" name="password" type="password" maxlength="128" '
            f'autocomplete="current-password"{required}></p>'
        )
    parts.append(f'<p><button type="submit">{escape(ACTIVATE(lang))}</button></p></form>')
    return page(lang, ACTIVATE, "\n".join(parts), status)


def reset_form(
    lang: str, action: str, email: str, code: str, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    body = (
        f"{_error(error)}<p>{escape(email)}</p>"
        f'<form method="post" action="{escape(action)}">'
        f"{_hidden('email', email)}{_hidden('code', code)}"
        f'<p><label for="new_password">{escape(NEW_PASSWORD_LABEL(lang))}</label><br>'
        '<input id="new_password" name="new_password" type="password" minlength="8" '
        'maxlength="128" autocomplete="new-password" required></p>'
        f'<p><button type="submit">{escape(RESET(lang))}</button></p></form>'
    )
    return page(lang, RESET, body, status)
