"""Quay's avatar data (``{name, hash, color, kind}``) for users, robots, organizations and
teams: a hash of the e-mail (or name) and a colour from d3's category20 palette. Pure: the
/api/v1 serializers and the usage-log export documents both use it."""

from __future__ import annotations

import hashlib
import math

# d3's category20 palette, as Quay's avatar colours.
_COLORS = [
    "#969696", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728",
    "#ff9896", "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2",
    "#7f7f7f", "#c7c7c7", "#bcbd22", "#1f77b4", "#17becf", "#9edae5", "#393b79",
]  # fmt: skip


def avatar(name: str, email: str | None = None, kind: str = "user") -> dict[str, str]:
    digest = hashlib.md5(
        (email or name).strip().lower().encode(), usedforsecurity=False
    ).hexdigest()
    width = math.ceil(math.log(len(_COLORS), 16))
    color = _COLORS[int(digest[:width], 16) % len(_COLORS)]
    return {"name": name, "hash": digest, "color": color, "kind": kind}
