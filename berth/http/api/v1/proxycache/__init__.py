"""The proxy-cache configuration routes of organizations (FEATURE_PROXY_CACHE)."""
