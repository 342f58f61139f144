"""The portal's web pages: a server-rendered client of the public API (../shared/api.md).

It owns no data and consumes no queue; it never imports `services` or `portal`
(tests/web/test_structure.py checks it) and reaches the APIs over HTTP through `web.clients`.

Adding a page, the way the existing ones are made:
- a route in the area's module of `web/pages/` (a router from `web.csrf.page_router()`: every
  POST/PUT/PATCH/DELETE is then CSRF-checked before the page runs); thin: read the form, call a
  client, render or redirect (POST → 303 → GET);
- the API call as a typed method of `web/clients/<api>.py` (answers as `ApiModel`s; a refusal
  raises `ApiProblem`, an API that does not answer `ApiUnavailable` → the 503 page);
- a page for signed-in people takes `token: web.auth.AccessToken` (refreshed under the
  session's lock; without a session: the sign-in page, then back);
- a form: `FormState.from_form(form, secret=[...])`, `form.require(...)`, and on an
  `ApiProblem` `form.apply(problem, fields=..., at=...)`, rendered with the macros of
  `templates/_forms.html` (`error_summary`, `input`, `select`, `csrf_field()`);
- a template extending `base.html`, Vietnamese (labels as the user guide writes them), no
  inline script or style (the CSP refuses them), words for every status;
- a browser test in `tests/web/` with the `browsing` fixture: `browsing.open(js=...)`,
  `browsing.goto(page, path)` / `browsing.look(page)` after each navigation (axe-core runs
  there; a page loaded and not looked at fails the test).
"""
