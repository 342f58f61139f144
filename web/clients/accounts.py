"""The accounts API (`/api/v1/accounts`): the captcha, registration, activation, password
reset, sign-in and refresh, the profile, sign-out."""

from __future__ import annotations

from datetime import date

from web.clients.base import ApiClient, ApiModel


class TokenPair(ApiModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    device_token: str | None = None
    """Given at sign-in: sent back at the next sign-in from this browser, it keeps the owner
    out of the lock an attacker elsewhere causes (the API's device cookie)."""


class Profile(ApiModel):
    id: str
    email: str
    full_name: str
    role: str
    agency_id: str | None = None
    gender: str | None = None
    date_of_birth: date | None = None
    phone: str | None = None
    address: str | None = None
    id_number: str | None = None


class Captcha(ApiModel):
    captcha_id: str
    image: str
    """`data:image/png;base64,…`"""
    audio: str | None = None
    """`data:audio/wav;base64,…` when the API offers the same challenge as sound."""
    expires_in: int | None = None


class Registration(ApiModel):
    """What the registration form sends (optional fields only when filled in)."""

    email: str
    password: str
    full_name: str
    captcha_id: str
    captcha_answer: str
    phone: str | None = None
    gender: str | None = None
    date_of_birth: str | None = None
    id_number: str | None = None
    address: str | None = None


class AccountsClient(ApiClient):
    name = "accounts"

    async def captcha(self, *, audio: bool = False) -> Captcha:
        """A new captcha; `audio`: one of digits, also spoken (the image's alternative)."""
        if audio:
            return await self.get_model("/captcha", Captcha, audio="true")
        return await self.get_model("/captcha", Captcha)

    async def register(self, registration: Registration) -> None:
        """202 whether or not the address had an account (no enumeration)."""
        await self.request(
            "POST", "/register", json_body=registration.model_dump(exclude_none=True)
        )

    async def activate(self, email: str, code: str, password: str | None = None) -> None:
        """`password`: the one chosen when registering, needed only when the address was
        registered more than once before activation (the API then says so at `password`)."""
        body = {"email": email, "code": code} | ({"password": password} if password else {})
        await self.request("POST", "/activate", json_body=body)

    async def resend_activation(self, email: str) -> None:
        await self.request("POST", "/activate/resend", json_body={"email": email})

    async def request_password_reset(self, email: str) -> None:
        await self.request("POST", "/password-reset", json_body={"email": email})

    async def reset_password(self, email: str, code: str, new_password: str) -> None:
        await self.request(
            "POST",
            "/password-reset/confirm",
            json_body={"email": email, "code": code, "new_password": new_password},
        )

    async def sign_in(
        self, email: str, password: str, device_token: str | None = None
    ) -> TokenPair:
        form = {"username": email, "password": password}
        if device_token:
            form["device_token"] = device_token
        response = await self.request("POST", "/token", data=form)
        return TokenPair.model_validate_json(response.content)

    async def me(self, access_token: str) -> Profile:
        response = await self.request(
            "GET", "/me", headers={"Authorization": f"Bearer {access_token}"}
        )
        return Profile.model_validate_json(response.content)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """A new pair; the old refresh token stops working (a second use ends the session)."""
        response = await self.request(
            "POST", "/token/refresh", json_body={"refresh_token": refresh_token}
        )
        return TokenPair.model_validate_json(response.content)

    async def sign_out(self, access_token: str, refresh_token: str) -> None:
        await self.request(
            "POST",
            "/logout",
            json_body={"refresh_token": refresh_token},
            headers={"Authorization": f"Bearer {access_token}"},
        )

    async def invite(
        self, access_token: str, *, email: str, full_name: str, role: str, agency_id: str | None
    ) -> Profile:
        """An admin invites an officer of `agency_id`, or another admin: the invited person is
        e-mailed a link that opens the page where they set their password."""
        response = await self.request(
            "POST",
            "/officers",
            json_body={
                "email": email,
                "full_name": full_name,
                "role": role,
                "agency_id": agency_id,
            },
            headers={"Authorization": f"Bearer {access_token}"},
        )
        return Profile.model_validate_json(response.content)
