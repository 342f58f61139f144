"""The pages, one router per area; every router comes from `web.csrf.page_router`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from web.clients.accounts import AccountsClient
from web.clients.catalogue import CatalogueClient
from web.clients.dossiers import DossiersClient

# Coroutines, not functions: FastAPI runs a plain function dependency in its thread pool, a
# thread hop per page for a dictionary read.
# Starlette's app.state holds Any: the `no-any-return` ignores below read the API clients
# web.app.create_app put there (`Clients`).


async def _catalogue(request: Request) -> CatalogueClient:
    return request.app.state.clients.catalogue  # type: ignore[no-any-return]


async def _accounts(request: Request) -> AccountsClient:
    return request.app.state.clients.accounts  # type: ignore[no-any-return]


async def _dossiers(request: Request) -> DossiersClient:
    return request.app.state.clients.dossiers  # type: ignore[no-any-return]


Catalogue = Annotated[CatalogueClient, Depends(_catalogue)]
Accounts = Annotated[AccountsClient, Depends(_accounts)]
Dossiers = Annotated[DossiersClient, Depends(_dossiers)]
