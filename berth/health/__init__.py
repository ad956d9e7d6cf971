"""Health checks behind Quay's ``/health/instance`` and ``/health/endtoend``."""
