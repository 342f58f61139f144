"""File storage (a folder; an S3-compatible server started here with moto) and the upload checks,
on real small files built in the tests."""

from __future__ import annotations

import io
import socket
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from services.kernel.settings import ServiceSettings
from services.kernel.storage import (
    DOCUMENT_TYPES,
    DOSSIER_TYPES,
    LocalStorage,
    S3Storage,
    SniffedFile,
    UploadRejected,
    check_upload,
    new_storage_key,
    safe_display_name,
    sniff,
    storage_from_settings,
)

MB = 1024 * 1024
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# ---------------------------------------------------------------- files built for the tests


def make_pdf(text: str = "Xin chao") -> bytes:
    """A minimal valid one-page PDF with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def make_image(fmt: str) -> bytes:
    image_module = pytest.importorskip("PIL.Image")
    image = image_module.new("RGB", (16, 12), (200, 30, 30))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>Đơn đề nghị</w:t></w:r></w:p></w:body></w:document>"
)


def make_docx(
    extra: dict[str, bytes] | None = None, *, skip: tuple[str, ...] = (), compresslevel: int = 6
) -> bytes:
    parts: dict[str, bytes] = {
        "[Content_Types].xml": CONTENT_TYPES.encode(),
        "_rels/.rels": RELS.encode(),
        "word/document.xml": DOCUMENT.encode(),
    }
    parts.update(extra or {})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as archive:
        for name, data in parts.items():
            if name not in skip:
                archive.writestr(name, data)
    return out.getvalue()


def make_zip_bomb_docx() -> bytes:
    """A DOCX whose one extra part is 200 MB of zeros (deflated to ~200 KB); built in chunks."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr("word/document.xml", DOCUMENT)
        with archive.open("word/media/zeros.bin", "w", force_zip64=True) as part:
            chunk = bytes(MB)
            for _ in range(200):
                part.write(chunk)
    return out.getvalue()


def make_zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def make_ole(stream_name: str) -> bytes:
    """A small OLE compound file (header + one directory sector naming `stream_name`); too small
    for `filetype` to recognise."""
    header = bytearray(512)
    header[0:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    struct.pack_into("<HHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9)
    directory = bytearray(512)
    for index, name in enumerate(("Root Entry", stream_name)):
        encoded = (name + "\x00").encode("utf-16-le")
        directory[index * 128 : index * 128 + len(encoded)] = encoded
        struct.pack_into("<H", directory, index * 128 + 0x40, len(encoded))
    return bytes(header + directory)


def reason(data: bytes, filename: str = "a.pdf", allowed: dict[str, str] = DOSSIER_TYPES) -> str:
    with pytest.raises(UploadRejected) as caught:
        check_upload(data, filename, allowed, 20 * MB)
    assert caught.value.vi_message and caught.value.en_message
    return caught.value.reason_code


# ---------------------------------------------------------------- local storage


def test_local_storage_round_trip(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    key = new_storage_key("dossiers", "pdf")

    async def scenario() -> None:
        await storage.put(key, b"first")
        await storage.put(key, b"second")
        assert await storage.get(key) == b"second"
        await storage.delete(key)
        await storage.delete(key)  # deleting twice is fine
        with pytest.raises(FileNotFoundError):
            await storage.get(key)

    anyio.run(scenario)
    assert (tmp_path / "dossiers").is_dir()
    assert not list((tmp_path / "dossiers").iterdir())


@pytest.mark.parametrize(
    "key",
    [
        "../x.pdf",
        "a/../../x.pdf",
        "/etc/passwd",
        "/abs/x.pdf",
        "a//b.pdf",
        "a\\b.pdf",
        "C:/x.pdf",
        "A/b.pdf",
        "a/.hidden",
        "",
        "a/b.pdf/",
        "a/b.tar.gz",
    ],
)
def test_local_storage_refuses_bad_keys(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path / "root")

    async def scenario() -> None:
        with pytest.raises(ValueError, match="bad storage key"):
            await storage.put(key, b"x")
        with pytest.raises(ValueError):
            await storage.get(key)
        with pytest.raises(ValueError):
            await storage.delete(key)

    anyio.run(scenario)
    assert not (tmp_path / "root").exists()


# ---------------------------------------------------------------- S3 (moto's server)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as error:  # pragma: no cover - moto[server] is a dev dependency
        pytest.skip(f"moto[server] is not installed: {error}")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    try:
        server.start()
    except Exception as error:  # pragma: no cover - depends on the machine
        pytest.skip(f"moto's S3 server could not start on 127.0.0.1:{port}: {error}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, request: pytest.FixtureRequest) -> tuple[str, Any]:
    """A fresh bucket (tests create it; S3Storage never creates anything) and a raw client."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    name = "portal-" + request.node.name.lower().replace("_", "-")[:40]
    client.create_bucket(Bucket=name)
    return name, client


def test_s3_storage_round_trip(s3_endpoint: str, bucket: tuple[str, Any]) -> None:
    name, client = bucket
    storage = S3Storage(name, s3_endpoint, "test", "test", "us-east-1", prefix="dossiers")
    key = new_storage_key("files", "pdf")
    pdf = make_pdf()

    async def scenario() -> None:
        await storage.put(key, pdf)
        assert await storage.get(key) == pdf
        await storage.put(key, b"replaced")
        assert await storage.get(key) == b"replaced"
        await storage.delete(key)
        await storage.delete(key)
        with pytest.raises(FileNotFoundError):
            await storage.get(key)
        with pytest.raises(ValueError):
            await storage.put("../escape.pdf", b"x")
        big = bytes(range(256)) * 40_000  # ~10 MB, several concurrent puts
        keys = [new_storage_key("files", "bin") for _ in range(4)]
        async with anyio.create_task_group() as group:
            for each in keys:
                group.start_soon(storage.put, each, big)
        for each in keys:
            assert await storage.get(each) == big

    anyio.run(scenario)
    listed = client.list_objects_v2(Bucket=name)["Contents"]
    assert listed and all(item["Key"].startswith("dossiers/files/") for item in listed)


def test_s3_storage_missing_bucket_is_not_created(s3_endpoint: str) -> None:
    import boto3
    from botocore.exceptions import ClientError

    storage = S3Storage("no-such-bucket", s3_endpoint, "test", "test", "us-east-1", "x")
    with pytest.raises(ClientError):
        anyio.run(storage.put, "a.pdf", b"x")
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    names = [b["Name"] for b in client.list_buckets().get("Buckets", [])]
    assert "no-such-bucket" not in names


def test_storage_from_settings(
    tmp_path: Path, s3_endpoint: str, bucket: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, client = bucket
    for variable in ("PORTAL_STORAGE", "PORTAL_S3_BUCKET", "PORTAL_S3_ENDPOINT_URL"):
        monkeypatch.delenv(variable, raising=False)
    local = storage_from_settings(tmp_path, "dossiers")
    assert isinstance(local, LocalStorage) and local.root == tmp_path

    monkeypatch.setenv("PORTAL_STORAGE", "s3")
    with pytest.raises(RuntimeError, match="PORTAL_S3_BUCKET"):
        storage_from_settings(tmp_path, "dossiers")
    with pytest.raises(RuntimeError, match="PORTAL_S3_BUCKET"):
        ServiceSettings().check_production()

    monkeypatch.setenv("PORTAL_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("PORTAL_S3_BUCKET", name)
    monkeypatch.setenv("PORTAL_S3_ACCESS_KEY", "test")
    monkeypatch.setenv("PORTAL_S3_SECRET_KEY", "test")
    monkeypatch.setenv("PORTAL_S3_REGION", "us-east-1")
    settings = ServiceSettings()
    assert settings.storage_backend == "s3" and settings.s3_bucket == name
    assert "test" not in repr(settings.s3_secret_key)
    storage = storage_from_settings(tmp_path, "dossiers")
    assert isinstance(storage, S3Storage)
    anyio.run(storage.put, "forms/a.pdf", b"%PDF-")
    assert client.get_object(Bucket=name, Key="dossiers/forms/a.pdf")["Body"].read() == b"%PDF-"
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- upload checks: accepted


def test_accepts_real_files_by_content() -> None:
    pdf = check_upload(make_pdf(), "Đơn.pdf", DOSSIER_TYPES, MB)
    assert pdf == SniffedFile("application/pdf", "pdf", pdf.sha256, len(make_pdf()))
    assert check_upload(make_image("PNG"), "a.png", DOSSIER_TYPES, MB).extension == "png"
    assert check_upload(make_image("JPEG"), "a.jpg", DOSSIER_TYPES, MB).extension == "jpg"
    docx = check_upload(make_docx(), "don.docx", DOSSIER_TYPES, MB)
    assert (docx.content_type, docx.extension) == (DOCX_MIME, "docx")
    doc = check_upload(make_ole("WordDocument"), "don.doc", DOSSIER_TYPES, MB)
    assert (doc.content_type, doc.extension) == ("application/msword", "doc")


def test_extension_is_ignored() -> None:
    assert check_upload(make_pdf(), "scan.jpg", DOSSIER_TYPES, MB).extension == "pdf"
    assert check_upload(make_image("PNG"), "anh.pdf", DOSSIER_TYPES, MB).extension == "png"
    assert check_upload(make_docx(), "no-extension", DOSSIER_TYPES, MB).extension == "docx"


@pytest.mark.parametrize("name", ["../../etc/passwd.pdf", "C:\\x\\a.pdf", "\x00.pdf", "", ".."])
def test_path_trick_names_do_not_matter_to_the_check(name: str) -> None:
    assert check_upload(make_pdf(), name, DOSSIER_TYPES, MB).content_type == "application/pdf"


def test_sniff_stays_compatible() -> None:
    assert sniff(make_ole("WordDocument"), DOCUMENT_TYPES) is not None
    assert sniff(make_ole("Workbook"), DOCUMENT_TYPES).extension == "xls"  # type: ignore[union-attr]
    assert sniff(make_docx(), DOCUMENT_TYPES).extension == "docx"  # type: ignore[union-attr]
    assert sniff(make_image("PNG"), {"application/pdf": "pdf"}) is None
    assert sniff(b"MZ\x90\x00" + bytes(100), DOCUMENT_TYPES) is None


# ---------------------------------------------------------------- upload checks: refused


def test_size_limit() -> None:
    pdf = make_pdf()
    assert check_upload(pdf, "a.pdf", DOSSIER_TYPES, len(pdf)).size == len(pdf)
    with pytest.raises(UploadRejected) as caught:
        check_upload(pdf, "a.pdf", DOSSIER_TYPES, len(pdf) - 1)
    assert caught.value.reason_code == "too_large"
    assert "dung lượng" in caught.value.vi_message
    assert reason(b"") == "empty"


def test_types_not_allowed_by_content() -> None:
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(200)
    assert reason(exe, "invoice.pdf") == "type_not_allowed"
    assert reason(b"plain text pretending", "a.docx") == "type_not_allowed"
    assert reason(make_ole("Workbook"), "a.doc") == "type_not_allowed"  # an XLS is not a DOC
    assert reason(make_ole("Other"), "a.doc") == "type_not_allowed"
    assert reason(make_pdf(), "a.pdf", {"image/png": "png"}) == "type_not_allowed"
    gif = b"GIF89a" + bytes(100)
    assert reason(gif, "a.png") == "type_not_allowed"


def test_invalid_ooxml() -> None:
    assert reason(make_docx(skip=("[Content_Types].xml",)), "a.docx") == "invalid_ooxml"
    assert reason(make_docx(skip=("word/document.xml",)), "a.docx") == "invalid_ooxml"
    assert reason(make_zip({"hello.txt": b"hi"}), "a.docx") == "invalid_ooxml"
    truncated = make_docx()[:-30]
    assert reason(truncated, "a.docx") == "invalid_ooxml"


def test_zip_bomb_of_200_mb_is_refused_without_expanding_it() -> None:
    bomb = make_zip_bomb_docx()
    assert len(bomb) < 2 * MB
    assert reason(bomb, "bomb.docx") == "zip_bomb"


def test_zip_bomb_by_ratio_and_by_entry_count() -> None:
    ratio = make_docx({"word/media/zeros.bin": bytes(5 * MB)}, compresslevel=9)
    assert reason(ratio, "a.docx") == "zip_bomb"
    many = make_docx({f"word/media/p{i}.xml": b"" for i in range(1001)})
    assert reason(many, "a.docx") == "zip_bomb"
    fine = make_docx({f"word/media/p{i}.xml": b"<x/>" for i in range(900)})
    assert check_upload(fine, "a.docx", DOSSIER_TYPES, 20 * MB).extension == "docx"


def test_zip_bomb_by_lying_central_directory() -> None:
    """Sizes crafted in the central directory: 150 MB claimed, never decompressed."""
    data = bytearray(make_docx({"word/media/big.bin": b"x" * 1000}, compresslevel=1))
    pos = data.find(b"PK\x01\x02word/media/big.bin"[:4], 0)
    while pos >= 0:
        (name_len,) = struct.unpack_from("<H", data, pos + 28)
        if bytes(data[pos + 46 : pos + 46 + name_len]) == b"word/media/big.bin":
            struct.pack_into("<I", data, pos + 24, 150 * MB)
        pos = data.find(b"PK\x01\x02", pos + 1)
    assert reason(bytes(data), "a.docx") == "zip_bomb"


@pytest.mark.parametrize(
    "entry", ["../../evil.sh", "/etc/cron.d/x", "word\\..\\..\\x", "C:/x.xml", "word/../../x"]
)
def test_zip_path_traversal(entry: str) -> None:
    assert reason(make_docx({entry: b"x"}), "a.docx") == "zip_path_traversal"


def test_pdf_structure() -> None:
    pdf = make_pdf()
    no_eof = pdf.replace(b"%%EOF", b"%%EOX")
    assert reason(no_eof) == "invalid_pdf"
    eof_far_from_end = pdf + b"\n% padding" * 200
    assert reason(eof_far_from_end) == "invalid_pdf"
    assert reason(b" " + pdf) == "type_not_allowed"


def test_pdf_zip_polyglots() -> None:
    pdf = make_pdf()
    archive = make_zip({"payload.js": b"alert(1)"})
    assert reason(pdf + archive) == "polyglot"
    # the zip inside a PDF stream, the PDF still well formed and ending with %%EOF
    stream = b"6 0 obj\n<< /Length %d >>\nstream\n" % len(archive)
    inner = stream + archive + b"\nendstream\nendobj\n"
    at = pdf.index(b"xref")
    assert reason(pdf[:at] + inner + pdf[at:]) == "polyglot"
    # a zip (DOCX) whose first bytes hold a PDF header
    assert reason(_pdf_first_docx(pdf), "a.docx") == "polyglot"


def _pdf_first_docx(pdf: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("a.pdf", pdf)
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("word/document.xml", DOCUMENT)
    return out.getvalue()


def test_image_with_zip_appended() -> None:
    archive = make_zip({"evil.php": b"<?php system($_GET['c']); ?>"})
    assert reason(make_image("PNG") + archive, "a.png") == "polyglot"
    assert reason(make_image("JPEG") + archive, "a.jpg") == "polyglot"
    assert reason(make_ole("WordDocument") + archive, "a.doc") == "polyglot"


def test_eocd_bytes_alone_are_not_a_zip() -> None:
    """A stray 'PK\\x05\\x06' in image data, with no central directory, is not a polyglot."""
    png = make_image("PNG")
    tail = b"PK\x05\x06" + bytes(18)
    assert check_upload(png + tail, "a.png", DOSSIER_TYPES, MB).extension == "png"


# ---------------------------------------------------------------- display names


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\x\\a.pdf", "a.pdf"),
        ("\x00.pdf", "tệp.pdf"),
        ("..", "tệp"),
        ("", "tệp"),
        ("   ", "tệp"),
        ("/", "tệp"),
        (".htaccess", "tệp.htaccess"),
        ("...Giấy khai sinh.pdf", "Giấy khai sinh.pdf"),
        ("Đơn đề nghị cấp phép xây dựng.docx", "Đơn đề nghị cấp phép xây dựng.docx"),
        ("tờ\tkhai\r\n.pdf", "tờ khai .pdf"),
        ("a\u202egpj.exe", "agpj.exe"),
        ('a<b>:"c"|?*.pdf', "abc.pdf"),
    ],
)
def test_safe_display_name(raw: str, shown: str) -> None:
    assert safe_display_name(raw) == shown


def test_safe_display_name_keeps_decomposed_vietnamese_and_caps_length() -> None:
    decomposed = "Ho\u0302\u0300 so\u031b.pdf"  # NFD from macOS
    assert safe_display_name(decomposed) == "Hồ sơ.pdf"
    long = safe_display_name("đ" * 400 + ".pdf")
    assert len(long) == 150 and long.endswith(".pdf") and long.startswith("đđđ")
    assert len(safe_display_name("x" * 400)) == 150
