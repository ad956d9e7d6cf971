"""What an e-mailed log export needs from a mail sender: one method.

Berth's e-mail sender (SMTP with Quay's ``MAIL_*`` keys) lives with the notifications
(``berth.notifications``); it implements this protocol and the composition root hands it to
``UsageLogService``. Until one is given (or with ``FEATURE_MAILING`` off) an export to an
e-mail address is accepted, as Quay accepts it, and the job writes the file but mails nothing
(logged as a warning): Quay's worker likewise cannot deliver the mail without a mail server.
"""

from __future__ import annotations

from typing import Protocol


class LogsExportedMailer(Protocol):
    async def send_logs_exported(
        self,
        to: str,
        *,
        export_id: str,
        status: str,
        exported_data_url: str | None,
        expires_in_s: int,
    ) -> None:
        """Send Quay's "Export Action Logs Complete" e-mail (``status``: ``success``,
        ``failed``, ``timedout`` or ``invalidrequest``); raise to have the job retried."""
        ...
