"""Global messages: list (anyone), create and delete (superusers; the HTTP edge checks).

Quay has no usage-log kind for messages, so none is written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select

from berth.db.session import Database
from berth.messages.models import Message

MEDIA_TYPES = ("text/plain", "text/markdown")
SEVERITIES = ("info", "warning", "error")


@dataclass(frozen=True)
class MessageInfo:
    uuid: str
    content: str
    media_type: str
    severity: str


class MessageService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self) -> list[MessageInfo]:
        async with self.db.read() as s:
            rows = (await s.execute(select(Message).order_by(Message.id))).scalars().all()
            return [MessageInfo(m.uuid, m.content, m.media_type, m.severity) for m in rows]

    async def create(self, content: str, media_type: str, severity: str) -> MessageInfo:
        if media_type not in MEDIA_TYPES or severity not in SEVERITIES:
            raise ValueError("unknown media type or severity")
        info = MessageInfo(str(uuid.uuid4()), content, media_type, severity)
        async with self.db.write() as s:
            s.add(
                Message(uuid=info.uuid, content=content, media_type=media_type, severity=severity)
            )
        return info

    async def delete(self, message_uuid: str) -> None:
        async with self.db.write() as s:
            await s.execute(delete(Message).where(Message.uuid == message_uuid))
