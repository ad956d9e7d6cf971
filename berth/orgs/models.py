"""Organizations are ``namespaces`` rows of kind "org" (see berth.accounts.models.Namespace);
their members are the members of their teams (berth.teams.models)."""

from __future__ import annotations

from berth.accounts.models import Namespace

ORG_KIND = "org"

__all__ = ["ORG_KIND", "Namespace"]
