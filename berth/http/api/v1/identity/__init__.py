"""/api/v1 adapter of the identity domain (users, organizations, teams, robots, repository
permissions): routes, serializers (JSON shapes) and access checks."""
