"""A local SMTP server for `make run`: every message it receives is written to a folder as an
.eml file, and the gateway lists them at /mail."""

from __future__ import annotations

import email
import email.policy
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class FolderHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.folder / (name + ".tmp")
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(self.folder / name)
        return "250 Message accepted for delivery"


def start_mail_catcher(folder: Path, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    controller = Controller(FolderHandler(folder), hostname=host, port=port)
    controller.start()
    return controller


def read_mail(folder: Path, limit: int = 50) -> list[dict[str, str]]:
    """The newest caught messages, decoded for display."""
    items = []
    for path in sorted(folder.glob("*.eml"), reverse=True)[:limit]:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        items.append(
            {
                "file": path.name,
                "to": str(message["To"]),
                "subject": str(message["Subject"]),
                "date": str(message["Date"]),
                "text": body.get_content() if body is not None else "",
            }
        )
    return items
