"""The repository mirroring routes (FEATURE_REPO_MIRROR)."""
