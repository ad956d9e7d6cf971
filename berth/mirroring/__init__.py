"""Repository mirroring (FEATURE_REPO_MIRROR): a repository in ``MIRROR`` state kept in step
with an upstream repository by scheduled syncs. See ``docs/mirroring.md``."""
