"""/api/v1 adapter of berth.oauth: routes, serializers (JSON shapes) and access checks."""
