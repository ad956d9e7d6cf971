"""Builds: ``/repository/{repo}/build/`` (list, start), ``…/build/{uuid}`` (get, cancel),
``…/status``, ``…/logs``, the superuser's ``/superuser/{uuid}/build|status|logs``, and the
file drop (``/filedrop/``) that uploads a context.

Quay's answers: start 201 with the build and ``Location``; 400 without ``file_id`` or
``archive_url``, for a bad tag, path or context (the uploaded archive is checked before
anything is queued); 403 for a pull robot the caller doesn't administer; 429 ``{"message":
"Maximum queued build rate exceeded."}``; 503 ``{"message": "Repository is in read only
or mirror mode: …"}``. Cancel (repository admin) 201 ``"Okay"``, 400 once pushing or
finished. Logs ``{start, total, logs}`` need write access unless FEATURE_READER_BUILD_LOGS
(global read-only superusers read them, as every read).

The file drop: POST answers ``{url, file_id}``; ``url`` is Berth's own, signed and valid
for an hour, and a PUT of the bytes there stores the context (413 over
BERTH_BUILD_MAX_CONTEXT_BYTES). Every route is off with FEATURE_BUILD_SUPPORT.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import quote

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
from berth.builds.types import BuildContext
from berth.http.api.v1.builds.serializers import build_view, logs_view
from berth.http.api.v1.errors import (
    MessageError,
    invalid_request,
    json_response,
    not_found,
    unauthorized,
)
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Param
from berth.http.api.v1.repos.access import RepoAccess, require_repo
from berth.http.api.v1.trigger_views import trigger_for_build

UPLOAD_TTL_S = 3600


def _text(description: str) -> dict[str, str]:
    return {"type": "string", "description": description}


START_BODY: dict[str, Any] = {
    "type": "object",
    "description": "Description of a new repository build.",
    "properties": {
        "file_id": _text("The file id that was generated when the build spec was uploaded"),
        "archive_url": _text('The URL of the .tar.gz to build. Must start with "http" or "https".'),
        "subdirectory": _text(
            "Subdirectory in which the Dockerfile can be found. You can only specify this or "
            "dockerfile_path"
        ),
        "dockerfile_path": _text(
            "Path to a dockerfile. You can only specify this or subdirectory."
        ),
        "context": _text("Pass in the context for the dockerfile. This is optional."),
        "pull_robot": _text("Username of a Quay robot account to use as pull credentials"),
        "docker_tags": {
            "type": "array",
            "description": "The tags to which the built images will be pushed. If none "
            'specified, "latest" is used.',
            "items": {"type": "string"},
            "minItems": 1,
            "uniqueItems": True,
        },
    },
}
FILEDROP_BODY: dict[str, Any] = {
    "type": "object",
    "description": "Description of the file that the user wishes to upload.",
    "required": ["mimeType"],
    "properties": {"mimeType": _text("Type of the file which is about to be uploaded")},
}


def _service(ctx: Ctx) -> BuildService:
    service = ctx.api.svc.builds
    if service is None or not service.settings.enabled:
        raise not_found()
    return service


def dockerfile_context(body: dict[str, Any]) -> tuple[str, str]:
    """Quay's ``get_dockerfile_context``: the context directory and the Dockerfile path
    from ``context``, ``dockerfile_path`` and the older ``subdirectory``."""
    context = body["context"] if body.get("context") else "/"
    if body.get("dockerfile_path"):
        path = str(body["dockerfile_path"])
        if not body.get("context"):
            context = path.rsplit("/", 1)[0] if "/" in path.strip("/") else "/"
        return str(context), path
    if body.get("subdirectory"):
        sub = str(body["subdirectory"])
        return sub, sub.rstrip("/") + "/Dockerfile"
    return str(context), str(context).rstrip("/") + "/Dockerfile"


def _view(ctx: Ctx, access: RepoAccess, build: Any) -> dict[str, Any]:
    return build_view(build, can_write=access.can_write, can_admin=access.can_admin)


async def _views(ctx: Ctx, access: RepoAccess, builds: list[Any]) -> list[dict[str, Any]]:
    """The builds with their triggers in Quay's trigger view (the triggers feature's)."""
    views = [_view(ctx, access, b) for b in builds]
    triggers = ctx.api.svc.build_triggers
    uuids = [b.trigger_uuid for b in builds if b.trigger_uuid]
    found = await triggers.views(uuids) if triggers is not None and uuids else {}
    for view, b in zip(views, builds, strict=True):
        if b.trigger_uuid in found:
            view["trigger"] = trigger_for_build(found[b.trigger_uuid], can_admin=access.can_admin)
    return views


async def list_builds(ctx: Ctx) -> Response:
    access = (await require_repo(ctx, RepoRole.READ)).require_exists()
    limit = ctx.query_int("limit", 5) or 5
    since = ctx.query_int("since")
    try:
        builds = await _service(ctx).list_builds(
            access.repo.namespace,
            access.repo.name,
            limit=limit,
            since_ms=since * 1000 if since is not None else None,
        )
    except RepositoryNotFound as e:
        raise not_found() from e
    return json_response({"builds": await _views(ctx, access, builds)})


async def start_build(ctx: Ctx) -> Response:
    access = (await require_repo(ctx, RepoRole.WRITE)).require_exists()
    service = _service(ctx)
    body = await ctx.body(START_BODY)
    file_id, archive_url = body.get("file_id"), body.get("archive_url")
    if not file_id and not archive_url:
        raise invalid_request("Missing required parameter: file_id or archive_url")
    if file_id and archive_url:
        raise invalid_request("Specify file_id or archive_url, not both")
    robot = body.get("pull_robot") or None
    user = ctx.caller.user
    if robot is not None:
        owner = str(robot).partition("+")[0]
        if user is None or not await ctx.api.is_namespace_admin(user, owner):
            raise unauthorized(user is not None)
    context_dir, dockerfile = dockerfile_context(body)
    source = (
        BuildContext.upload(str(file_id)) if file_id else BuildContext.archive(str(archive_url))
    )
    try:
        build = await service.start_build(
            None,
            namespace=access.repo.namespace,
            repository=access.repo.name,
            performer=ctx.performer(),
            context=source,
            docker_tags=list(body.get("docker_tags") or []),
            subdirectory=context_dir,
            dockerfile_path=dockerfile,
            pull_robot=robot,
            manual_user=user.username if user is not None else None,
        )
    except (InvalidBuildRequest, BadContext, UnknownPullRobot, FileNotFound) as e:
        raise invalid_request(e.message) from e
    except RepositoryNotFound as e:
        raise not_found() from e
    except RepositoryNotNormal as e:
        raise MessageError(503, e.message) from e
    except QueueLimitReached as e:
        raise MessageError(429, e.message) from e
    except BuildsDisabled as e:
        raise not_found() from e
    location = (
        f"{ctx.api.base_url}/api/v1/repository/{access.repo.namespace}/{access.repo.name}"
        f"/build/{build.uuid}"
    )
    return json_response(_view(ctx, access, build), 201, headers={"Location": location})


async def _build(ctx: Ctx, role: RepoRole) -> tuple[RepoAccess, Any]:
    access = (await require_repo(ctx, role)).require_exists()
    try:
        build = await _service(ctx).get_build(
            access.repo.namespace, access.repo.name, ctx.params["build_uuid"]
        )
    except BuildNotFound as e:
        raise not_found() from e
    return access, build


async def get_build(ctx: Ctx) -> Response:
    access, build = await _build(ctx, RepoRole.READ)
    return json_response((await _views(ctx, access, [build]))[0])


async def cancel_build(ctx: Ctx) -> Response:
    access = (await require_repo(ctx, RepoRole.ADMIN)).require_exists()
    try:
        await _service(ctx).cancel(
            access.repo.namespace,
            access.repo.name,
            ctx.params["build_uuid"],
            performer=ctx.performer(),
        )
    except BuildNotFound as e:
        raise not_found() from e
    except BuildNotCancellable as e:
        raise invalid_request("Build cannot be cancelled") from e
    return json_response("Okay", 201)


async def build_logs(ctx: Ctx) -> Response:
    access, build = await _build(ctx, RepoRole.READ)
    service = _service(ctx)
    readable = access.can_write or service.settings.reader_logs or ctx.is_readonly_superuser
    if not readable:
        raise unauthorized(ctx.caller.user is not None)
    page = await service.logs(build.uuid, ctx.query_int("start", 0) or 0)
    return json_response(logs_view(page))


# ---- the superuser's view of any build ------------------------------------------------------
async def _any_build(ctx: Ctx) -> Any:
    ctx.require_superuser()
    build = await _service(ctx).find(ctx.params["build_uuid"])
    if build is None:
        raise not_found()
    return build


async def superuser_build(ctx: Ctx) -> Response:
    return json_response(build_view(await _any_build(ctx), can_write=True, can_admin=True))


async def superuser_build_logs(ctx: Ctx) -> Response:
    build = await _any_build(ctx)
    page = await _service(ctx).logs(build.uuid, ctx.query_int("start", 0) or 0)
    return json_response(logs_view(page))


# ---- the file drop -------------------------------------------------------------------------
def _signature(ctx: Ctx, file_id: str, expires: int) -> str:
    key = ctx.api.settings.secret_key.encode()
    return hmac.new(key, f"filedrop:{file_id}:{expires}".encode(), hashlib.sha256).hexdigest()


async def filedrop(ctx: Ctx) -> Response:
    service = _service(ctx)
    user = ctx.require_user("repo:write")  # the first step of a build (a repository write)
    body = await ctx.body(FILEDROP_BODY)
    file_id = await service.create_file(user_id=user.id, mime_type=str(body["mimeType"]))
    expires = int(time.time()) + UPLOAD_TTL_S
    url = (
        f"{ctx.api.base_url}/api/v1/filedrop/{quote(file_id)}"
        f"?expires={expires}&signature={_signature(ctx, file_id, expires)}"
    )
    return json_response({"url": url, "file_id": file_id})


async def filedrop_upload(ctx: Ctx) -> Response:
    """The PUT target of a file drop: the signature is the credential (browsers PUT there
    with no other)."""
    service = _service(ctx)
    file_id = ctx.params["file_id"]
    expires = ctx.query_int("expires", 0) or 0
    given = ctx.query("signature") or ""
    if expires < time.time() or not hmac.compare_digest(given, _signature(ctx, file_id, expires)):
        raise MessageError(403, "The upload URL is invalid or has expired")
    limit = service.settings.max_context_bytes
    declared = ctx.request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise MessageError(413, f"The file is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in ctx.request.stream():
        size += len(chunk)
        if size > limit:
            raise MessageError(413, f"The file is larger than {limit} bytes")
        chunks.append(chunk)
    try:
        await service.put_file(file_id, b"".join(chunks))
    except FileTooLarge as e:
        raise MessageError(413, e.message) from e
    except FileNotFound as e:
        raise not_found() from e
    return Response(status_code=200)


def routes(api: ApiApp) -> list[ApiRoute]:
    on = api.settings.builds.enabled
    repo = "/repository/{repository}/build/"
    one = repo + "{build_uuid}"
    common: dict[str, Any] = {"tag": "build", "enabled": on}
    read: dict[str, Any] = {**common, "scopes": ("repo:read",), "anon_allowed": True}
    return [
        ApiRoute(
            "GET",
            repo,
            list_builds,
            "Get the list of repository builds.",
            query=(
                Param("limit", "integer", "The maximum number of builds to return"),
                Param("since", "integer", "Returns all builds since the given unix timecode"),
            ),
            **read,
        ),
        ApiRoute(
            "POST",
            repo,
            start_build,
            "Request that a repository be built and pushed from the specified input.",
            body=START_BODY,
            body_name="RepositoryBuildRequest",
            scopes=("repo:write",),
            **common,
        ),
        ApiRoute("GET", one, get_build, "Returns information about a build.", **read),
        ApiRoute(
            "DELETE",
            one,
            cancel_build,
            "Cancels a repository build.",
            scopes=("repo:admin",),
            **common,
        ),
        ApiRoute(
            "GET",
            one + "/status",
            get_build,
            "Return the status for the builds specified by the build uuids.",
            **read,
        ),
        ApiRoute(
            "GET",
            one + "/logs",
            build_logs,
            "Return the build logs for the build specified by the build id.",
            query=(Param("start", "integer", "The first log entry to return"),),
            **read,
        ),
        *(
            ApiRoute(
                "GET",
                f"/superuser/{{build_uuid}}/{tail}",
                handler,
                summary,
                tag="superuser",
                scopes=("super:user",),
                enabled=on,
            )
            for tail, handler, summary in (
                ("build", superuser_build, "Returns information about a build."),
                ("status", superuser_build, "Return the status for the build."),
                ("logs", superuser_build_logs, "Return the build logs for the build."),
            )
        ),
        ApiRoute(
            "POST",
            "/filedrop/",
            filedrop,
            "Request a URL to which a file may be uploaded.",
            body=FILEDROP_BODY,
            body_name="FileDropRequest",
            internal=True,
            **common,
        ),
        ApiRoute(
            "PUT",
            "/filedrop/{file_id}",
            filedrop_upload,
            "Upload the file of a file drop (the signed URL the POST answered).",
            anon_allowed=True,
            internal=True,
            csrf=False,
            oauth=False,
            **common,
        ),
    ]
