"""The /api/v1 adapter of rate limits (berth.ratelimits): per-namespace limits."""
