"""Build triggers: custom git, GitHub, GitLab and Bitbucket pushes that start builds, with
Quay's routes, payloads, tag templates and usage-log entries (docs/build-triggers.md)."""
