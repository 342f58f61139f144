"""The dossier status e-mails, rendered by the notifier's own renderer: Vietnamese, text and
HTML, the code, the status label, the request or reason, the tracking link and the "file a new
dossier" rule for accountless filers, and HTML that escapes what officers and filers typed."""

from __future__ import annotations

import typing
from typing import Any

import pytest

from services.kernel.contracts import EmailTemplate, SendEmailV1
from services.notifier.mailer import TEMPLATES, PermanentFailure, RenderedEmail, render

LABELS = {
    "submitted": "Hồ sơ đã gửi",
    "supplement_requested": "Hồ sơ yêu cầu bổ sung",
    "processing": "Hồ sơ đang xử lý",
    "result_returned": "Hồ sơ đã trả kết quả",
    "rejected": "Hồ sơ bị trả lại",
}
CODE = "000.00.19.H23-260213-0042"
TRACKING = f"https://dichvucong.hatinh.gov.vn/tra-cuu?code={CODE}&token=tK9-x_2Qm"
DOSSIER_URL = "https://dichvucong.hatinh.gov.vn/ho-so/01JM4X7Q2V"
SUPPLEMENT = (
    "Bản sao Giấy chứng nhận quyền sử dụng đất chưa được chứng thực.\n"
    "Đề nghị bổ sung bản sao có chứng thực và sửa lại số thửa tại Tờ khai."
)
REASON = "Thửa đất thuộc thẩm quyền giải quyết của UBND huyện Cẩm Xuyên, không thuộc Sở."
SCRIPT = '<script>alert("xss")</script>'


def context(status: str, *, accountless: bool, **extra: Any) -> dict[str, Any]:
    return {
        "full_name": "Nguyễn Thị Hương",
        "dossier_code": CODE,
        "procedure_name": "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền "
        "với đất do đổi tên",
        "procedure_code": "1.004227",
        "agency_name": "Sở Tài nguyên và Môi trường tỉnh Hà Tĩnh",
        "status": status,
        "status_label": LABELS[status],
        "accountless": accountless,
        "dossier_url": None if accountless else DOSSIER_URL,
        "tracking_url": TRACKING if accountless else None,
        "occurred_at": "13/02/2026 15:30",
        **extra,
    }


def extras(template: str) -> dict[str, Any]:
    return {
        "dossier_submitted": {"due_note": "Thời hạn giải quyết: 10 ngày làm việc."},
        "dossier_processing": {"due_at": "06/03/2026 17:00"},
        "dossier_supplement_requested": {"content": SUPPLEMENT},
        "dossier_rejected": {"reason": REASON},
        "dossier_result_returned": {
            "note": "Mời ông/bà nhận bản chính tại Bộ phận một cửa.",
            "results": ["giay-chung-nhan-QSDD.pdf", "quyet-dinh-so-125.pdf"],
        },
    }[template]


DOSSIER_TEMPLATES = [name for name in typing.get_args(EmailTemplate) if name.startswith("dossier_")]


def status_of(template: str) -> str:
    return template.removeprefix("dossier_")


def rendered(template: str, *, accountless: bool, **overrides: Any) -> RenderedEmail:
    ctx = context(status_of(template), accountless=accountless, **extras(template))
    ctx.update(overrides)
    # The context must travel through the contract the services send.
    message = SendEmailV1(message_id="m1", to="huong@example.vn", template=template, context=ctx)
    return render(message.template, message.context)


def test_every_email_template_has_its_three_files() -> None:
    for name in typing.get_args(EmailTemplate):
        folder = TEMPLATES / name
        for part in ("subject.txt", "body.txt", "body.html"):
            assert (folder / part).is_file(), f"{name}/{part}"


def test_the_five_status_changes_have_templates() -> None:
    assert {status_of(t) for t in DOSSIER_TEMPLATES} == set(LABELS)


@pytest.mark.parametrize("accountless", [False, True], ids=["account", "accountless"])
@pytest.mark.parametrize("template", DOSSIER_TEMPLATES)
def test_each_email_names_the_dossier_and_its_status(template: str, accountless: bool) -> None:
    email = rendered(template, accountless=accountless)
    label = LABELS[status_of(template)]
    assert CODE in email.subject and "\n" not in email.subject
    assert email.subject.startswith(f"Hồ sơ {CODE}: ")
    for part in (email.text, email.html):
        assert CODE in part
        assert label in part
        assert "Nguyễn Thị Hương" in part
        assert "1.004227" in part
        assert "Sở Tài nguyên và Môi trường tỉnh Hà Tĩnh" in part
        assert "13/02/2026 15:30" in part
    assert "Cổng Dịch vụ công trực tuyến tỉnh Hà Tĩnh" in email.text  # the footer
    assert email.html.lstrip().startswith("<!doctype html>")
    if accountless:
        assert TRACKING in email.text
        assert TRACKING.replace("&", "&amp;") in email.html
        assert DOSSIER_URL not in email.text + email.html
    else:
        assert DOSSIER_URL in email.text and DOSSIER_URL in email.html
        assert "tra-cuu" not in email.text + email.html


@pytest.mark.parametrize("template", DOSSIER_TEMPLATES)
def test_null_links_and_agency_render_without_them(template: str) -> None:
    for accountless in (False, True):
        email = rendered(
            template, accountless=accountless, dossier_url=None, tracking_url=None, agency_name=None
        )
        assert "None" not in email.text + email.html
        assert "<a href" not in email.html
        assert CODE in email.text


def test_subjects() -> None:
    subjects = {t: rendered(t, accountless=False).subject for t in DOSSIER_TEMPLATES}
    assert subjects == {
        "dossier_submitted": f"Hồ sơ {CODE}: đã gửi đến cơ quan giải quyết",
        "dossier_processing": f"Hồ sơ {CODE}: đã được tiếp nhận, đang xử lý",
        "dossier_supplement_requested": f"Hồ sơ {CODE}: yêu cầu bổ sung",
        "dossier_rejected": f"Hồ sơ {CODE}: bị trả lại",
        "dossier_result_returned": f"Hồ sơ {CODE}: đã có kết quả",
    }


def test_submitted_tells_an_accountless_filer_about_the_tracking_link_and_the_rule() -> None:
    email = rendered("dossier_submitted", accountless=True)
    assert "Thời hạn giải quyết: 10 ngày làm việc." in email.text
    assert "nộp hồ sơ mới" in email.text and "nộp hồ sơ mới" in email.html
    assert "không tài khoản" in email.text
    email = rendered("dossier_submitted", accountless=False)
    assert "nộp hồ sơ mới" not in email.text
    # due_note is optional: left out of the context entirely.
    ctx = context("submitted", accountless=False)
    assert "Thời hạn" not in render("dossier_submitted", ctx).text


def test_supplement_request_carries_its_content() -> None:
    email = rendered("dossier_supplement_requested", accountless=False)
    for line in SUPPLEMENT.splitlines():
        assert line in email.text and line in email.html
    assert "Bổ sung hồ sơ" in email.text and "Gửi bổ sung" in email.text
    assert "nộp hồ sơ mới" not in email.text + email.html


def test_supplement_request_to_an_accountless_filer_says_to_file_a_new_dossier() -> None:
    email = rendered("dossier_supplement_requested", accountless=True)
    assert SUPPLEMENT in email.text
    assert "nộp hồ sơ mới" in email.text and "nộp hồ sơ mới" in email.html
    assert "không thể bổ sung" in email.text and "không thể bổ sung" in email.html
    assert "Gửi bổ sung" not in email.text + email.html
    assert TRACKING in email.text


def test_processing_shows_the_due_date_when_known() -> None:
    email = rendered("dossier_processing", accountless=False)
    assert "Hạn trả kết quả: 06/03/2026 17:00" in email.text
    assert "06/03/2026 17:00" in email.html
    email = rendered("dossier_processing", accountless=False, due_at=None)
    assert "Hạn trả kết quả" not in email.text + email.html


def test_rejection_carries_the_reason() -> None:
    for accountless in (False, True):
        email = rendered("dossier_rejected", accountless=accountless)
        assert REASON in email.text and REASON in email.html
        assert "Lý do" in email.text


def test_result_lists_the_files_and_the_note() -> None:
    email = rendered("dossier_result_returned", accountless=False)
    for part in (email.text, email.html):
        assert "giay-chung-nhan-QSDD.pdf" in part and "quyet-dinh-so-125.pdf" in part
        assert "Mời ông/bà nhận bản chính tại Bộ phận một cửa." in part
    assert "- giay-chung-nhan-QSDD.pdf\n- quyet-dinh-so-125.pdf" in email.text
    assert "Thao tác" in email.text
    email = rendered("dossier_result_returned", accountless=True, note=None, results=[])
    assert "Kết quả đính kèm" not in email.text and "Ghi chú" not in email.text
    assert TRACKING in email.text


@pytest.mark.parametrize("template", DOSSIER_TEMPLATES)
def test_html_escapes_what_people_typed(template: str) -> None:
    hostile = {
        "full_name": f"Hương {SCRIPT}",
        "procedure_name": f"Thủ tục {SCRIPT}",
        "agency_name": f"Sở {SCRIPT}",
        "content": f"Bổ sung {SCRIPT}",
        "reason": f"Lý do {SCRIPT}",
        "note": f"Ghi chú {SCRIPT}",
        "results": [f"{SCRIPT}.pdf"],
        "due_note": SCRIPT,
        "due_at": SCRIPT,
    }
    for accountless in (False, True):
        email = rendered(template, accountless=accountless, **hostile)
        assert "<script" not in email.html
        assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in email.html
        assert SCRIPT in email.text  # plain text is not HTML: shown as typed


def test_html_escapes_the_supplement_content_and_the_reason() -> None:
    email = rendered("dossier_supplement_requested", accountless=True, content=SCRIPT)
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    email = rendered("dossier_rejected", accountless=False, reason=SCRIPT)
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html


def test_a_missing_context_key_is_a_permanent_failure() -> None:
    ctx = context("rejected", accountless=False)  # no reason
    with pytest.raises(PermanentFailure):
        render("dossier_rejected", ctx)
