"""/api/v1 adapter of the registry (tags, manifests, labels): routes, serializers (JSON
shapes) and access checks."""
