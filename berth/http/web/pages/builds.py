"""A repository's Builds tab (``/repository/{ns}/{repo}?tab=builds``), the "Start build"
form, the build page ``/repository/{ns}/{repo}/build/{uuid}`` with its live log, and cancel.

The same service and rules as the ``/api/v1`` build routes: the tab and the build page for
readers (the API's list and get), the log for writers (readers too with
FEATURE_READER_BUILD_LOGS), starting for writers, cancelling for repository admins. A
started build goes through the file drop (``create_file`` + ``put_file``) and
``start_build`` as the API's ``POST /filedrop/`` + ``PUT`` + ``POST …/build/`` do.

The start form is ``multipart/form-data`` (a file upload); its CSRF token travels in the
action's query (``_csrf_token``, which the request pipeline accepts) because the pipeline
reads only urlencoded bodies. The log follows a running build with htmx: the fragment
``…/build/{uuid}/logs?start=N`` answers the entries from N and, while the build has not
ended (or more entries remain), a poller that asks again from the next N.
"""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from berth.authz import RepoRole
from berth.builds.errors import (
    BadContext,
    BuildNotCancellable,
    BuildNotFound,
    BuildsDisabled,
    FileNotFound,
    FileTooLarge,
    InvalidBuildRequest,
    QueueLimitReached,
    RepositoryNotFound,
    RepositoryNotNormal,
    UnknownPullRobot,
)
from berth.builds.services import BuildService
from berth.builds.types import NOT_CANCELLABLE, BuildContext, BuildRecord
from berth.http.api.v1.errors import MessageError, forbidden, not_found
from berth.http.api.v1.repos.access import RepoAccess, require_repo
from berth.http.web.framework import Page, WebApp, WebRoute
from berth.http.web.pages import buildtriggers
from berth.registry.errors import NameInvalid
from berth.registry.repositories import parse_repo_name

TAB = "builds"
HISTORY_LIMIT = 25
MAX_TAG_FIELD = 2000
MAX_PATH = 1024
MULTIPART_OVERHEAD = 64 * 1024  # the form's other fields and part headers

# The phase label's PatternFly colour (Quay's builds tab colours phases the same way).
PHASE_COLOURS = {
    "waiting": "grey",
    "build-scheduled": "blue",
    "unpacking": "blue",
    "pulling": "blue",
    "building": "blue",
    "pushing": "cyan",
    "complete": "green",
    "error": "red",
    "internalerror": "red",
    "cancelled": "orange",
    "expired": "orange",
}


def enabled(page: Page) -> bool:
    service = page.web.api.svc.builds
    return service is not None and service.settings.enabled


def _service(page: Page) -> BuildService:
    service = page.web.api.svc.builds
    if service is None or not service.settings.enabled:
        raise not_found()
    return service


async def _target(page: Page, role: RepoRole) -> RepoAccess:
    """As the API's build routes: the role (403), then existence (404)."""
    try:
        repo = parse_repo_name(page.params["repository"], library=None)
    except NameInvalid as e:
        raise not_found() from e
    page.ctx.params["repository"] = f"{repo.namespace}/{repo.name}"
    return (await require_repo(page.ctx, role)).require_exists()


def _base(access: RepoAccess) -> str:
    return f"/repository/{access.repo.namespace}/{access.repo.name}"


def _duration(b: BuildRecord) -> str:
    if b.ended_at is None:
        return ""
    seconds = max(0, (b.ended_at - b.started_at) // 1000)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m"


@dataclass(frozen=True)
class BuildRow:
    build: BuildRecord
    colour: str
    duration: str
    started_by: str  # the trigger's kind and ref, or the user who started it

    @property
    def finished(self) -> bool:
        return self.build.finished


def _row(b: BuildRecord) -> BuildRow:
    if b.trigger_uuid:
        ref = b.git_ref or (b.trigger_metadata or {}).get("ref") or ""
        who = f"{b.trigger_kind or 'trigger'} {ref}".strip()
    else:
        who = b.manual_user or "(unknown)"
    return BuildRow(b, PHASE_COLOURS.get(b.phase, "grey"), _duration(b), who)


def _may_read_logs(page: Page, access: RepoAccess, service: BuildService) -> bool:
    return access.can_write or service.settings.reader_logs


async def builds_data(page: Page, access: RepoAccess) -> dict[str, Any]:
    """The Builds tab: the newest builds (the API's list) and whether the caller may start."""
    service = _service(page)
    try:
        builds = await service.list_builds(
            access.repo.namespace, access.repo.name, limit=HISTORY_LIMIT
        )
    except RepositoryNotFound as e:
        raise not_found() from e
    data: dict[str, Any] = {
        "builds": [_row(b) for b in builds],
        "may_start_build": access.can_write,
    }
    if access.can_admin:  # the API lists triggers to repository admins
        data["triggers"] = await buildtriggers.tab_triggers(page, access.repo)
    return data


# ---- starting a build -------------------------------------------------------------------
def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """``multipart/form-data`` fields: name -> (file name or None, bytes)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or name in fields:
            continue
        payload = part.get_payload(decode=True)
        filename = part.get_filename()
        fields[name] = (filename, payload if isinstance(payload, bytes) else b"")
    return fields


def _text(fields: dict[str, tuple[str | None, bytes]], name: str) -> str:
    return fields.get(name, (None, b""))[1].decode("utf-8", "replace").strip()


def _too_large(service: BuildService) -> MessageError:
    return MessageError(413, f"The file is larger than {service.settings.max_context_bytes} bytes")


def _failed(page: Page, access: RepoAccess, message: str) -> Response:
    page.flash(message, "danger")
    return page.redirect(f"{_base(access)}?tab={TAB}")


async def start_post(page: Page) -> Response:
    """The "Start build" form: the upload becomes a file drop of the caller's, then
    ``start_build`` as the API's (write permission; the API's messages on refusal)."""
    access = await _target(page, RepoRole.WRITE)
    service = _service(page)
    user = page.require_user()
    request = page.request
    limit = service.settings.max_context_bytes + MULTIPART_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(service)
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        return _failed(page, access, "Choose a Dockerfile or an archive to upload.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(service)
        chunks.append(chunk)
    fields = parse_multipart(ctype, b"".join(chunks))
    filename, content = fields.get("file", (None, b""))
    if not content:
        return _failed(page, access, "Choose a Dockerfile or an archive to upload.")
    raw_tags = _text(fields, "docker_tags")[:MAX_TAG_FIELD]
    tags = [t for t in raw_tags.replace(",", " ").split() if t] or ["latest"]
    context_dir = _text(fields, "context")[:MAX_PATH] or "/"
    dockerfile = _text(fields, "dockerfile_path")[:MAX_PATH]
    if not dockerfile:
        dockerfile = context_dir.rstrip("/") + "/Dockerfile"
    robot = _text(fields, "pull_robot")[:255] or None
    if robot is not None and not await page.web.api.is_namespace_admin(
        user, robot.partition("+")[0]
    ):
        raise forbidden()  # the API's rule: a pull robot of a namespace the caller administers
    mime = "application/octet-stream" if filename and "Dockerfile" not in filename else "text/plain"
    file_id = await service.create_file(user_id=user.id, mime_type=mime)
    try:
        await service.put_file(file_id, content)
        build = await service.start_build(
            None,
            namespace=access.repo.namespace,
            repository=access.repo.name,
            performer=page.ctx.performer(),
            context=BuildContext.upload(file_id),
            docker_tags=tags,
            subdirectory=context_dir,
            dockerfile_path=dockerfile,
            pull_robot=robot,
            manual_user=user.username,
        )
    except (InvalidBuildRequest, BadContext, UnknownPullRobot, FileNotFound) as e:
        return _failed(page, access, e.message)
    except FileTooLarge as e:
        raise MessageError(413, e.message) from e
    except RepositoryNotFound as e:
        raise not_found() from e
    except (RepositoryNotNormal, QueueLimitReached) as e:
        return _failed(page, access, e.message)
    except BuildsDisabled as e:
        raise not_found() from e
    page.flash(f"Build {build.display_name} queued.")
    return page.redirect(f"{_base(access)}/build/{build.uuid}")


# ---- one build: its page, its log, cancel --------------------------------------------------
async def _one(page: Page, role: RepoRole) -> tuple[RepoAccess, BuildService, BuildRecord]:
    access = await _target(page, role)
    service = _service(page)
    try:
        build = await service.get_build(
            access.repo.namespace, access.repo.name, page.params["build_uuid"]
        )
    except BuildNotFound as e:
        raise not_found() from e
    return access, service, build


async def _log_data(service: BuildService, build: BuildRecord, start: int) -> dict[str, Any]:
    # The build is read before its log: a build seen ended has all its entries written.
    logs = await service.logs(build.uuid, start)
    following = start + len(logs.logs)
    return {
        "entries": logs.logs,
        "first": start,
        "next": following,
        "follow": not build.finished or following < logs.total,
        "row": _row(build),
    }


async def build_page(page: Page) -> Response:
    access, service, build = await _one(page, RepoRole.READ)
    may_logs = _may_read_logs(page, access, service)
    data: dict[str, Any] = {
        "full_name": f"{access.repo.namespace}/{access.repo.name}",
        "base": _base(access),
        "row": _row(build),
        "build": build,
        "may_read_logs": may_logs,
        "can_cancel": access.can_admin and build.phase not in NOT_CANCELLABLE,
    }
    if may_logs:
        data.update(await _log_data(service, build, 0))
    return page.render("builds/build.html", **data)


async def logs_fragment(page: Page) -> Response:
    """The entries from ``start`` (and a poller while the build runs): the htmx answer."""
    access, service, build = await _one(page, RepoRole.READ)
    if not _may_read_logs(page, access, service):
        raise forbidden()  # the API's logs rule: writers (readers with FEATURE_READER_BUILD_LOGS)
    raw = page.query("start", "0")
    start = int(raw) if raw.isdigit() else 0
    data = await _log_data(service, build, start)
    return page.render("builds/_log.html", base=_base(access), build=build, oob=True, **data)


async def cancel_post(page: Page) -> Response:
    access, service, build = await _one(page, RepoRole.ADMIN)  # the API's cancel: admins
    try:
        await service.cancel(
            access.repo.namespace, access.repo.name, build.uuid, performer=page.ctx.performer()
        )
        page.flash("Build cancelled.")
    except BuildNotCancellable:
        page.flash("Build cannot be cancelled", "warning")
    return page.redirect(f"{_base(access)}/build/{build.uuid}")


# ---- the superuser's build queue ------------------------------------------------------------
async def queue_page(page: Page) -> Response:
    """``/superuser/builds``: every waiting and running build (the service's ``running``,
    oldest first), with the configured bounds; superusers only, as the superuser build
    routes."""
    page.ctx.require_superuser(fresh=False)
    service = _service(page)
    builds = await service.running()
    settings = service.settings
    return page.render(
        "builds/queue.html",
        rows=[_row(b) for b in builds],
        waiting=sum(1 for b in builds if b.phase == "waiting"),
        running=sum(1 for b in builds if b.phase != "waiting"),
        max_running=settings.max_running,
        max_running_per_namespace=settings.max_running_per_namespace,
        max_queued=settings.max_queued,
    )


def routes(web: WebApp) -> list[WebRoute]:
    if not web.api.settings.builds.enabled:
        return []
    superusers = web.api.settings.api.super_users_enabled
    base = "/repository/{repository:repository}/build"
    one = base + "/{build_uuid}"
    return [
        WebRoute(base + "/start", start_post, methods=("POST",)),
        WebRoute(one + "/logs", logs_fragment, signed_in=False),
        WebRoute(one + "/cancel", cancel_post, methods=("POST",)),
        WebRoute(one, build_page, signed_in=False),
        WebRoute("/superuser/builds", queue_page, enabled=superusers),
    ]
