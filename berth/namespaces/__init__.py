"""Namespaces (the core table users and organizations share)."""
