"""Quotas: storage limits per namespace (Quay's namespace quotas), checked at push."""
