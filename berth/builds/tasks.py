"""The builds' job kind: ``run_build`` (the build lane), one per queued build.

The handler is ``berth.builds.manager.BuildManager.run_build``, bound in the composition
root. One attempt per claim: a crash of the worker (its lease expires) lets another runner
claim the job again, and the manager, finding the build already past ``waiting``, marks it
``internalerror`` and queues it once more while ``retries_remaining`` lasts.

``purge_build_files`` (hourly) forgets uploaded contexts older than a day that no waiting or
running build needs (``BuildService.purge_files``).
"""

from __future__ import annotations

from dataclasses import dataclass

from berth.jobs import JobKind, Lane, NoPayload


@dataclass(frozen=True)
class RunBuild:
    build_uuid: str


RUN_BUILD = JobKind("run_build", RunBuild, lane=Lane.BUILD, max_attempts=3)
# Hourly: uploaded contexts older than a day that no waiting or running build needs.
PURGE_BUILD_FILES = JobKind("purge_build_files", NoPayload, lane=Lane.LONG)
