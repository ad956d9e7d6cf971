"""/api/v1 usage logs (berth.usagelogs)."""
