"""The notifications' configuration section: Quay's mail keys and feature flags.

Built once by ``berth.config.load_settings`` (``settings.notifications``); this package never
reads the config file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MailSettings:
    """Quay's ``MAIL_*`` keys. ``use_tls``: STARTTLS after connecting (Quay's meaning);
    ``use_auth``: log in with ``username``/``password``."""

    server: str = "localhost"
    port: int = 587
    use_tls: bool = True
    use_auth: bool = False
    username: str | None = None
    password: str | None = None
    default_sender: str = "support@quay.io"
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    """FEATURE_MAILING (e-mail method, authorized e-mails, invitations and recovery by
    e-mail), FEATURE_QUOTA_NOTIFICATIONS (namespace notifications), the mail server,
    USER_RECOVERY_TOKEN_LIFETIME, REGISTRY_TITLE (e-mail subjects) and the webhook host
    names refused at creation (WEBHOOK_HOSTNAME_BLACKLIST)."""

    mailing: bool = True
    quota_notifications: bool = False
    mail: MailSettings = MailSettings()
    recovery_token_lifetime_s: int = 1800
    registry_title: str = "Berth"
    webhook_hostname_blacklist: tuple[str, ...] = ()
    # Sweep of tags about to expire (repo_image_expiry notifications).
    expiry_sweep_interval_s: int = 3600
