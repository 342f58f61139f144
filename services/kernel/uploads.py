"""Checks on uploaded files, by content only: the type from magic bytes (the client's file name and
content type are never trusted), OOXML structure, zip bombs, path tricks inside zips, polyglots.
Pure functions; the services map `UploadRejected` to their own problem answers."""

from __future__ import annotations

import hashlib
import io
import re
import struct
import unicodedata
import zipfile
from dataclasses import dataclass

import filetype

from services.kernel.errors import ProblemError, Text

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
DOC = "application/msword"
OLE = "application/x-ole-storage"
XLS = "application/vnd.ms-excel"
PPT = "application/vnd.ms-powerpoint"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP = "application/zip"

DOCUMENT_TYPES: dict[str, str] = {
    PDF: "pdf",
    JPEG: "jpg",
    PNG: "png",
    DOC: "doc",
    OLE: "doc",
    DOCX: "docx",
    XLS: "xls",
    XLSX: "xlsx",
}
"""Every type the portal stores, content type -> extension of the stored file."""

DOSSIER_TYPES: dict[str, str] = {PDF: "pdf", JPEG: "jpg", PNG: "png", DOC: "doc", DOCX: "docx"}
"""What a citizen may attach to a dossier."""

MAX_ZIP_UNCOMPRESSED = 100 * 1024 * 1024
MAX_ZIP_RATIO = 100
MAX_ZIP_ENTRIES = 1000
_CONTENT_TYPES_LIMIT = 1024 * 1024
_RATIO_MIN_ENTRY = 1024 * 1024
"""Entries smaller than this are not held to the per-entry ratio (tiny XML parts compress well)."""

_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_EOCD = b"PK\x05\x06"
_OOXML: dict[str, tuple[str, str]] = {
    DOCX: ("word/document.xml", "wordprocessingml.document.main+xml"),
    XLSX: ("xl/workbook.xml", "spreadsheetml.sheet.main+xml"),
}
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class SniffedFile:
    content_type: str
    extension: str
    sha256: str
    size: int


class UploadRejected(Exception):
    """An upload refused by content; `reason_code` is stable, the messages are for people."""

    def __init__(self, reason_code: str, vi_message: str, en_message: str) -> None:
        super().__init__(f"{reason_code}: {en_message}")
        self.reason_code = reason_code
        self.vi_message = vi_message
        self.en_message = en_message

    def problem(self) -> ProblemError:
        """The answer to the uploader: 413 for a file too large, 415 for any other refusal."""
        kind = FileTooLarge if self.reason_code == "too_large" else FileRefused
        return kind(detail=Text(self.vi_message, self.en_message))


class FileTooLarge(ProblemError):
    code = "payload-too-large"
    status = 413


class FileRefused(ProblemError):
    """415: an upload whose content is not of an accepted type (or is unsafe)."""

    code = "unsupported-media-type"
    status = 415


def _reject(code: str, name: str, vi: str, en: str) -> UploadRejected:
    return UploadRejected(code, f"Tệp «{name}»: {vi}", f"File “{name}”: {en}")


def _ole_kind(data: bytes) -> str:
    """Which Office 97-2003 format an OLE compound file holds, by its stream names (UTF-16LE)."""
    if "WordDocument".encode("utf-16-le") in data:
        return DOC
    if "Workbook".encode("utf-16-le") in data or "Book\x00".encode("utf-16-le") in data:
        return XLS
    if "PowerPoint Document".encode("utf-16-le") in data:
        return PPT
    return OLE


def _magic(data: bytes) -> str | None:
    """The content type by magic bytes; zips are `application/zip` until their entries are read."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(_PNG_MAGIC):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(_OLE_MAGIC):
        return _ole_kind(data)
    if data.startswith(b"PK\x03\x04"):
        return ZIP
    kind = filetype.guess(data)
    return None if kind is None else str(kind.mime)


def _ooxml_kind(archive: zipfile.ZipFile) -> str | None:
    """DOCX or XLSX when the zip has the parts and the declared main part of one, else None."""
    names = {info.orig_filename: info for info in archive.infolist()}
    types = names.get("[Content_Types].xml")
    if types is None or types.file_size > _CONTENT_TYPES_LIMIT:
        return None
    try:
        with archive.open(types) as stream:
            declared = stream.read(_CONTENT_TYPES_LIMIT + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError):
        return None
    for mime, (part, main) in _OOXML.items():
        if part in names and main.encode() in declared:
            return mime
    return None


def _open_zip(data: bytes) -> zipfile.ZipFile | None:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return None


def sniff(data: bytes, allowed: dict[str, str]) -> SniffedFile | None:
    """The file's type from its content (magic bytes), or None when it is not one of `allowed`.
    Type only: use `check_upload` for the full checks on what a client sends."""
    mime = _magic(data)
    if mime == ZIP:
        archive = _open_zip(data)
        mime = (_ooxml_kind(archive) if archive is not None else None) or ZIP
    if mime is None or mime not in allowed:
        return None
    return _sniffed(data, mime, allowed)


def _sniffed(data: bytes, mime: str, allowed: dict[str, str]) -> SniffedFile:
    return SniffedFile(
        content_type=DOC if mime == OLE else mime,
        extension=allowed[mime],
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def _embedded_zip(data: bytes) -> bool:
    """Whether a zip reader would find an archive in `data`: an end-of-central-directory record
    whose central directory (just before it) starts with a central file header."""
    pos = data.find(_EOCD)
    while pos >= 0:
        if pos + 22 <= len(data):
            entries, cd_size, cd_offset = struct.unpack_from("<xxxxxxxxxxHII", data, pos)
            if cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF or entries == 0xFFFF:
                if pos >= 20 and data[pos - 20 : pos - 16] == b"PK\x06\x07":
                    return True
            elif (
                entries
                and 0 < cd_size <= pos
                and data[pos - cd_size : pos - cd_size + 4] == b"PK\x01\x02"
            ):
                return True
        pos = data.find(_EOCD, pos + 1)
    return False


def _unsafe_entry_name(name: str) -> bool:
    if not name or name[0] in "/\\" or "\\" in name or _DRIVE.match(name):
        return True
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return True
    return ".." in name.split("/")


def _zip_entry_count(data: bytes) -> int | None:
    """The entry count the last end-of-central-directory record declares (None for zip64)."""
    pos = data.rfind(_EOCD, max(0, len(data) - 22 - 0xFFFF))
    if pos < 0 or pos + 22 > len(data):
        return None
    (entries,) = struct.unpack_from("<H", data, pos + 10)
    return None if entries == 0xFFFF else int(entries)


def _check_zip(data: bytes, name: str, allowed: dict[str, str]) -> str:
    """The OOXML type of a zip after the structure, bomb and path checks (on the central
    directory; only [Content_Types].xml is read, at most 1 MB of it)."""
    office = [mime for mime in _OOXML if mime in allowed]
    if not office and ZIP not in allowed:
        raise _not_allowed(name, allowed)
    invalid = _reject(
        "invalid_ooxml",
        name,
        "không phải tệp Word/Excel (DOCX/XLSX) hợp lệ.",
        "not a valid Word/Excel (DOCX/XLSX) file.",
    )
    bomb = _reject(
        "zip_bomb",
        name,
        "tệp nén có kích thước giải nén bất thường, không được chấp nhận.",
        "the archive expands to an abnormal size and is refused.",
    )
    declared = _zip_entry_count(data)
    if declared is not None and declared > MAX_ZIP_ENTRIES:
        raise bomb
    archive = _open_zip(data)
    if archive is None:
        raise invalid
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise bomb
    total = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos)
    if total > MAX_ZIP_UNCOMPRESSED or total > MAX_ZIP_RATIO * max(packed, 1):
        raise bomb
    for info in infos:
        if info.file_size >= _RATIO_MIN_ENTRY and info.file_size > MAX_ZIP_RATIO * max(
            info.compress_size, 1
        ):
            raise bomb
    ordered = sorted(infos, key=lambda info: info.header_offset)
    for first, second in zip(ordered, ordered[1:], strict=False):
        if first.header_offset + 30 + first.compress_size > second.header_offset:
            raise bomb  # overlapping entries: the "non-recursive" zip bomb
    if any(_unsafe_entry_name(info.orig_filename) for info in infos):
        raise _reject(
            "zip_path_traversal",
            name,
            "tệp nén chứa đường dẫn không an toàn.",
            "the archive holds unsafe entry paths.",
        )
    names = [info.orig_filename for info in infos]
    if len(set(names)) != len(names) or any(info.flag_bits & 0x1 for info in infos):
        raise invalid
    if any(info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for info in infos):
        raise invalid
    kind = _ooxml_kind(archive)
    if kind is None:
        if ZIP in allowed:
            return ZIP
        raise invalid
    if kind not in allowed:
        raise _not_allowed(name, allowed)
    return kind


def _not_allowed(name: str, allowed: dict[str, str]) -> UploadRejected:
    kinds = ", ".join(sorted({ext.upper() for ext in allowed.values()}))
    return _reject(
        "type_not_allowed",
        name,
        f"loại tệp không được chấp nhận (theo nội dung tệp); chỉ nhận {kinds}.",
        f"this type of file is not accepted (checked by content); accepted: {kinds}.",
    )


def check_upload(
    data: bytes, filename: str, allowed: dict[str, str], max_bytes: int
) -> SniffedFile:
    """The checked type of an upload, or `UploadRejected`. The decision is by content only;
    `filename` is used for the messages."""
    name = safe_display_name(filename)
    if len(data) > max_bytes:
        limit = f"{max_bytes / (1024 * 1024):.4g} MB"
        raise _reject(
            "too_large",
            name,
            f"tệp vượt quá dung lượng cho phép ({limit}).",
            f"the file is larger than allowed ({limit}).",
        )
    if not data:
        raise _reject("empty", name, "tệp rỗng.", "the file is empty.")
    mime = _magic(data)
    if mime == ZIP:
        mime = _check_zip(data, name, allowed)
    elif mime is None or mime not in allowed:
        raise _not_allowed(name, allowed)
    polyglot = _reject(
        "polyglot",
        name,
        "tệp đồng thời mang dạng của một loại tệp khác, không được chấp nhận.",
        "the file is also readable as another type of file and is refused.",
    )
    if mime != PDF and b"%PDF-" in data[:1024]:
        raise polyglot
    if mime not in (DOCX, XLSX, ZIP) and _embedded_zip(data):
        raise polyglot
    if mime == PDF and b"%%EOF" not in data[-1024:]:
        raise _reject(
            "invalid_pdf",
            name,
            "không phải tệp PDF hoàn chỉnh.",
            "not a complete PDF file.",
        )
    if mime == PNG and data[12:16] != b"IHDR":
        raise _reject("invalid_image", name, "ảnh PNG hỏng.", "a damaged PNG image.")
    return _sniffed(data, mime, allowed)


_UNSAFE_CHARS = set('<>:"/\\|?*')
MAX_DISPLAY_NAME = 150


def safe_display_name(filename: str) -> str:
    """A client's file name fit to show and to send back in Content-Disposition: no folders,
    control or format characters, leading dots; Vietnamese letters kept; at most 150 characters."""
    base = re.split(r"[/\\]", filename or "")[-1]
    base = unicodedata.normalize("NFC", base)
    kept = "".join(
        " " if c.isspace() else c
        for c in base
        if c not in _UNSAFE_CHARS and (c.isspace() or not unicodedata.category(c).startswith("C"))
    )
    kept = re.sub(r" {2,}", " ", kept).strip(" ")
    stripped = kept.lstrip(". ").rstrip(". ")
    if stripped and kept.startswith(".") and "." not in stripped:
        stripped = f"tệp.{stripped}"  # ".pdf" -> "tệp.pdf", not a bare "pdf"
    if len(stripped) > MAX_DISPLAY_NAME:
        stem, dot, ext = stripped.rpartition(".")
        if dot and stem and 0 < len(ext) <= 10:
            stripped = stem[: MAX_DISPLAY_NAME - len(ext) - 1].rstrip(". ") + "." + ext
        else:
            stripped = stripped[:MAX_DISPLAY_NAME].rstrip(". ")
    return stripped or "tệp"


def download_name(filename: str, extension: str) -> str:
    """The name a stored upload is downloaded under: the client's name made harmless
    (`safe_display_name`) with the extension of the file's real type."""
    name = safe_display_name(filename)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{stem or 'tep'}.{extension}"
