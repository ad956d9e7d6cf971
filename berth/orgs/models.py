"""Organizations are ``namespaces`` rows of kind "org" (see berth.namespaces.models.Namespace);
their members are the members of their teams (berth.teams.models)."""

from __future__ import annotations

from berth.namespaces.models import ORG_KIND, Namespace

__all__ = ["ORG_KIND", "Namespace"]
