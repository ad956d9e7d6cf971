"""Background jobs: kinds with typed payloads, the queue (a table in the registry's
database), and the runner with its lanes.

Public API:
  Lane, JobKind, NoPayload, Binding, Schedule   (berth.jobs.kinds)
  enqueue, enqueue_core, JobQueue, ClaimedJob, JobRow, JobNotFound, JobNotRetryable
      (berth.jobs.queue)
  JobRunner   (berth.jobs.runner)

This package knows no feature: each feature's ``tasks.py`` declares its kinds and handlers,
and the composition root (``berth.services``) binds them and builds the runner.
"""

from berth.jobs.kinds import Binding, JobKind, Lane, NoPayload, Schedule
from berth.jobs.queue import (
    ClaimedJob,
    JobNotFound,
    JobNotRetryable,
    JobQueue,
    JobRow,
    enqueue,
    enqueue_core,
)
from berth.jobs.runner import JobRunner

__all__ = [
    "Binding",
    "ClaimedJob",
    "JobKind",
    "JobNotFound",
    "JobNotRetryable",
    "JobQueue",
    "JobRow",
    "JobRunner",
    "Lane",
    "NoPayload",
    "Schedule",
    "enqueue",
    "enqueue_core",
]
