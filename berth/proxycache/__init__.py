"""Proxy-cache organizations: pull-through from an upstream registry (docs/proxy-cache.md)."""
