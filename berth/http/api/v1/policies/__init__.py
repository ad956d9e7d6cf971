"""/api/v1 adapter of berth.policies: routes, serializers (JSON shapes) and access checks."""
