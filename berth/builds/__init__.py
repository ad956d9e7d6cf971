"""Dockerfile builds (issue 18): Quay's RepositoryBuild, the build manager and executors.

* ``types``: ``BuildContext`` (where a build's context comes from), ``BuildRecord`` (a build
  as services hand it out), the phases;
* ``models``: the tables (builds, their log entries, uploaded context files);
* ``services``: ``BuildService`` (start, list, get, cancel, logs, file drops);
* ``context``: safe unpacking of a context archive (paths, symlinks, bombs, sizes);
* ``executors``: the executor interface, the local buildah executor and the Kubernetes one;
* ``manager``: runs one build (the long-lane job), phase by phase;
* ``tasks``: the job kind;
* ``settings``: FEATURE_BUILD_SUPPORT and the builder's keys.
"""
