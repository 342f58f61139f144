"""uvicorn's HTTP protocol, answering a request it cannot parse (a control character in a
header, a malformed request line) with problem+json like every other refusal, instead of
uvicorn's plain-text "Invalid HTTP request received."."""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from services.kernel.errors import PROBLEM_JSON, TITLES, TYPE_BASE

_BODY = json.dumps(
    {
        "type": TYPE_BASE + "bad-request",
        "title": TITLES["bad-request"][1],
        "status": 400,
        "detail": "Yêu cầu HTTP không hợp lệ (dòng yêu cầu hoặc tiêu đề sai định dạng). "
        "Invalid HTTP request (malformed request line or header).",
    },
    ensure_ascii=False,
).encode()


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """`uvicorn --http portal.http:ProblemHttpToolsProtocol`. The request could not be read, so
    neither its language nor its path is known: the detail says it in both languages."""

    def send_400_response(self, msg: str) -> None:
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: " + PROBLEM_JSON.encode() + b"\r\n",
            b"content-length: " + str(len(_BODY)).encode() + b"\r\n",
            b"x-content-type-options: nosniff\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + _BODY)
        self.transport.close()
