"""The portal's web pages: a server-rendered client of the public API (../shared/api.md).

It owns no data and consumes no queue; it never imports `services` (tests/web/test_structure.py
checks it) and talks to the APIs over HTTP through `web.clients`."""
