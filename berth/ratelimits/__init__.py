"""Rate limits (Berth, beyond Quay): requests per caller and per namespace, on /v2 and /api/v1."""
