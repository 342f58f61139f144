"""The accounts API (`/api/v1/accounts`): sign-in, the profile, sign-out. Registration,
activation and password reset come with the accounts pages."""

from __future__ import annotations

from datetime import date

from web.clients.base import ApiClient, ApiModel


class TokenPair(ApiModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int


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


class AccountsClient(ApiClient):
    name = "accounts"

    async def sign_in(self, email: str, password: str) -> TokenPair:
        response = await self.request(
            "POST", "/token", data={"username": email, "password": password}
        )
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
