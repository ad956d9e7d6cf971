"""The notifications' job kinds: one delivery of one event to one notification, an e-mail
(invitations, confirmations, recovery), and the sweep of tags about to expire.

Deliveries and e-mails run in the quick lane: each is its own job, so a slow or broken
receiver holds up only its own delivery (the lane runs several at once). A failed attempt
is retried by the runner after its backoff (2, 4, 8 ... s); the notification's
``number_of_failures`` counts failed attempts and a notification with
``FAILURE_THRESHOLD`` of them is disabled (its deliveries are skipped) until reset, as in
Quay. A success sets it back to 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from berth.jobs import JobKind, Lane, NoPayload

#: Quay's threshold: a notification with 3 failures is disabled (``number_of_failures < 3``
#: selects the live ones).
FAILURE_THRESHOLD = 3


@dataclass(frozen=True)
class DeliverNotification:
    notification_id: int
    delivery_id: str
    event: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SendEmail:
    to: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)


DELIVER_NOTIFICATION = JobKind(
    "deliver_notification", DeliverNotification, lane=Lane.QUICK, max_attempts=5
)
SEND_EMAIL = JobKind("send_email", SendEmail, lane=Lane.QUICK, max_attempts=5)
NOTIFY_EXPIRING_TAGS = JobKind("notify_expiring_tags", NoPayload, lane=Lane.LONG, max_attempts=3)
