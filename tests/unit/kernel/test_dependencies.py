"""What every dossiers and accounts request resolves before its route runs is async: FastAPI
runs a plain-function dependency in a worker thread, a thread hop per request for a few lines
of work."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIRouter

from services.accounts.api import router as accounts
from services.dossiers.api import router as dossiers


def calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from calls(dependency)


def runs_on_the_loop(call: Any) -> bool:
    function = call if inspect.isroutine(call) else type(call).__call__  # a callable instance
    return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)


@pytest.mark.parametrize("router", [dossiers, accounts], ids=["dossiers", "accounts"])
def test_no_dependency_of_a_route_runs_in_a_thread(router: APIRouter) -> None:
    threaded = {
        f"{route.path} → {getattr(call, '__qualname__', call)}"
        for route in router.routes
        if isinstance(route, APIRoute)
        for call in calls(route.dependant)
        if not runs_on_the_loop(call)
    }
    assert not threaded
