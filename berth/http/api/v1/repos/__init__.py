"""/api/v1 adapter of berth.repos: routes, serializers (JSON shapes) and access checks."""
