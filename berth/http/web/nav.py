"""The sidebar: its sections and links, and the places reserved for pages later issues add.

To give a new page its link, add a ``NavItem`` here (``path`` is also the prefix that marks
it current). A ``NavItem`` with ``ready=False`` is a placeholder: listed, greyed, not a link,
until its issue builds the page and flips it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    ready: bool = True
    superuser: bool = False  # shown only to superusers
    signed_in: bool = False  # shown only when signed in
    current: bool = False


NAV: tuple[NavItem, ...] = (
    NavItem("Repositories", "/repository/"),
    NavItem("Organizations", "/organization/", signed_in=True),
    NavItem("Usage logs", "/usagelogs", signed_in=True),
    NavItem("Notifications", "/notifications", signed_in=True),
    NavItem("Quotas", "/quota", signed_in=True),
    NavItem("Mirroring", "/mirroring", ready=False, signed_in=True),
    NavItem("Proxy cache", "/proxycache", ready=False, signed_in=True),
    NavItem("Security", "/security", ready=False, signed_in=True),
    NavItem("Builds", "/builds", ready=False, signed_in=True),
    NavItem("Superuser", "/superuser", superuser=True),
)


def sidebar(path: str, *, signed_in: bool, superuser: bool) -> list[NavItem]:
    """The links this visitor sees, the one under ``path`` marked current."""
    return [
        NavItem(
            item.label,
            item.path,
            item.ready,
            item.superuser,
            item.signed_in,
            current=item.ready and path.startswith(item.path),
        )
        for item in NAV
        if (signed_in or not item.signed_in) and (superuser or not item.superuser)
    ]
