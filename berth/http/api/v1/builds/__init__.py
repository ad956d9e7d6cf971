"""``/api/v1`` adapter of Dockerfile builds (``berth.builds``)."""
