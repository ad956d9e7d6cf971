"""E-mail: Quay's ``MAIL_*`` settings, messages rendered from Jinja2 templates (an HTML and
a plain-text part each), sent with aiosmtplib.

Templates live in ``berth/notifications/templates/``: ``<name>.html`` and ``<name>.txt``,
each rendered with the context given plus ``title`` (REGISTRY_TITLE) and ``base_url``.
The first line of the text template that starts with ``Subject:`` is the subject.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import aiosmtplib
import jinja2

from berth.notifications.settings import MailSettings


class MailError(Exception):
    """The mail server could not be reached or refused the message (the job retries)."""


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("berth.notifications", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


class Mailer:
    def __init__(self, settings: MailSettings, *, title: str, base_url: str) -> None:
        self.settings = settings
        self.title = title
        self.base_url = base_url
        self._env = _environment()

    def render(self, template: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """(subject, plain text, HTML) of ``template`` with ``context``."""
        ctx = {"title": self.title, "base_url": self.base_url, **context}
        text = self._env.get_template(f"{template}.txt").render(ctx)
        html = self._env.get_template(f"{template}.html").render(ctx)
        subject = f"[{self.title}]"
        lines = text.splitlines()
        if lines and lines[0].startswith("Subject:"):
            subject = lines[0].removeprefix("Subject:").strip()
            text = "\n".join(lines[1:]).lstrip("\n")
        return subject, text, html

    def message(self, to: str, template: str, context: dict[str, Any]) -> EmailMessage:
        subject, text, html = self.render(template, context)
        msg = EmailMessage()
        msg["From"] = self.settings.default_sender
        msg["To"] = to
        msg["Subject"] = subject
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        return msg

    async def send_logs_exported(
        self,
        to: str,
        *,
        export_id: str,
        status: str,
        exported_data_url: str | None,
        expires_in_s: int,
    ) -> None:
        """Quay's "Export Action Logs Complete" e-mail (``berth.usagelogs.mail``'s protocol:
        the log export job calls it)."""
        await self.send(
            to,
            "logs_exported",
            {
                "export_id": export_id,
                "status": status,
                "exported_data_url": exported_data_url,
                "expires_in_minutes": max(1, expires_in_s // 60),
            },
        )

    async def send(self, to: str, template: str, context: dict[str, Any]) -> None:
        msg = self.message(to, template, context)
        s = self.settings
        try:
            await aiosmtplib.send(
                msg,
                hostname=s.server,
                port=s.port,
                start_tls=s.use_tls,
                username=s.username if s.use_auth or s.username else None,
                password=s.password if s.use_auth or s.username else None,
                timeout=s.timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError) as e:
            raise MailError(f"sending mail to {to} through {s.server}:{s.port} failed: {e}") from e
