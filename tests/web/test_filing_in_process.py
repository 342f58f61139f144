"""The tracking page and its result downloads rendered in process against API answers given by an
`httpx.MockTransport` (the journeys through the real APIs are in test_filing_pages.py): what the
page passes on of a file, how the API is asked, and a link that opens nothing."""

from __future__ import annotations

from typing import Any

import httpx

from tests.web.test_pages_in_process import client

TRACKED: dict[str, Any] = {
    "id": "d1",
    "code": "X18073-261201-0001",
    "status": "result_returned",
    "status_label": "Hồ sơ đã trả kết quả",
    "procedure": {
        "id": "p1",
        "code": "1.001193",
        "name": "Thủ tục đăng ký khai sinh",
        "version": 1,
    },
    "agency": {"id": "X18073", "name": "Phường Thành Sen"},
    "submitted_at": "2026-12-01T08:00:00+07:00",
    "due_at": None,
    "deadline_note": "Thủ tục chưa công bố thời hạn giải quyết.",
    "supplement_request": None,
    "rejection_reason": None,
    "results": [
        {
            "id": "f1",
            "filename": "giay-khai-sinh.pdf",
            "content_type": "application/pdf",
            "size": 2048,
            "sha256": "0" * 64,
        }
    ],
    "history": [
        {
            "at": "2026-12-01T08:00:00+07:00",
            "status": "submitted",
            "status_label": "Hồ sơ đã gửi",
            "action": "submit",
            "actor_role": "accountless",
            "note": None,
        }
    ],
}


def test_the_tracking_page_and_its_result_download() -> None:
    asked: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        path = request.url.raw_path.decode().split("?")[0]
        if path == "/api/v1/dossiers/track":
            if request.url.params.get("token") != "the-token":
                return httpx.Response(404, json={"type": "x/not-found", "status": 404})
            return httpx.Response(200, json=TRACKED)
        if path == "/api/v1/dossiers/d1/results/f1":
            return httpx.Response(
                200,
                stream=httpx.ByteStream(b"%PDF-1.4 ket qua"),  # streamed, as over the network
                headers={
                    "content-type": "application/pdf",
                    "content-disposition": "attachment; filename*=UTF-8''giay-khai-sinh.pdf",
                    "set-cookie": "api=1",  # nothing of the API's own answer but the file
                },
            )
        return httpx.Response(404, json={"type": "x/not-found", "status": 404})

    with client(api) as http:
        page = http.get("/theo-doi-ho-so", params={"code": TRACKED["code"], "token": "the-token"})
        assert page.status_code == 200
        assert page.headers["cache-control"] == "private, no-store"  # a token in its address
        for shown in ("Hồ sơ đã trả kết quả", "Phường Thành Sen", TRACKED["deadline_note"]):
            assert shown in page.text, shown
        assert "Người nộp hồ sơ" in page.text and "Gửi hồ sơ" in page.text  # the history
        link = "/theo-doi-ho-so/ket-qua/f1?code=X18073-261201-0001&amp;token=the-token"
        assert link in page.text
        download = http.get(
            "/theo-doi-ho-so/ket-qua/f1", params={"code": TRACKED["code"], "token": "the-token"}
        )
        assert download.status_code == 200 and download.content == b"%PDF-1.4 ket qua"
        assert download.headers["content-disposition"].startswith("attachment;")
        assert download.headers["x-content-type-options"] == "nosniff"
        assert download.headers["cache-control"] == "private, no-store"
        assert "api=1" not in download.headers.get("set-cookie", "")
        # the tracking token goes to the API as the result's `token`, never as a bearer
        result_call = asked[-1]
        assert result_call.url.params["token"] == "the-token"
        assert "authorization" not in result_call.headers

        wrong = http.get("/theo-doi-ho-so", params={"code": TRACKED["code"], "token": "sai"})
        assert wrong.status_code == 404
        assert "Không tìm thấy hồ sơ theo đường dẫn này" in wrong.text
        missing = http.get("/theo-doi-ho-so")  # no code, no token: a bad address, not a trace
        assert missing.status_code == 400 and "Traceback" not in missing.text
