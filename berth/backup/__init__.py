"""Backup and restore of the embedded default (SQLite + blobs), consistent while it runs."""
