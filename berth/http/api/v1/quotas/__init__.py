"""The /api/v1 adapter of quotas (berth.quotas)."""
