"""One small typed client per API, over HTTP (httpx): the web app's only way to the data."""

from web.clients.base import ApiClient, ApiProblem, ApiUnavailable, FieldProblem

__all__ = ["ApiClient", "ApiProblem", "ApiUnavailable", "FieldProblem"]
