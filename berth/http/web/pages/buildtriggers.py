"""Build triggers in the web UI: the Builds tab's trigger list (repository admins, as the
API's ``…/trigger/`` list) and Quay's setup page ``/repository/{ns}/{repo}/trigger/{uuid}``
(where ``/customtrigger/setup/{repo}`` sends a new custom git trigger): the setup form
(git URL, Dockerfile path, context, branch/tag filter, tag templates, pull robot) that
activates it, then its webhook URL and public deploy key, enable/disable, run by hand, and
delete.

Every handler goes through the API's own ``admin_repo`` (403/404, and 503 for changes to a
repository that is not ``NORMAL``) and ``answer`` (the service's errors as Quay's); a
refusal of a form comes back as the API's message on top of the page.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from berth.buildtriggers.services import TriggerView
from berth.http.api.v1.buildtriggers.routes import admin_repo, answer, triggers
from berth.http.api.v1.errors import ApiProblem, forbidden, not_found
from berth.http.web.framework import Page, WebApp, WebRoute
from berth.registry.errors import NameInvalid
from berth.registry.repositories import RepoName, parse_repo_name

MAX_FIELD = 1024


def _params(page: Page) -> None:
    try:
        repo = parse_repo_name(page.params["repository"], library=None)
    except NameInvalid as e:
        raise not_found() from e
    page.ctx.params["repository"] = f"{repo.namespace}/{repo.name}"
    if "trigger_uuid" in page.params:
        page.ctx.params["trigger_uuid"] = page.params["trigger_uuid"]


def _url(repo: RepoName, trigger_uuid: str | None = None) -> str:
    base = f"/repository/{repo.namespace}/{repo.name}"
    return f"{base}/trigger/{trigger_uuid}" if trigger_uuid else f"{base}?tab=builds"


def _credentials(view: TriggerView) -> dict[str, str]:
    return {c["name"]: c["value"] for c in view.config.get("credentials", [])}


async def tab_triggers(page: Page, repo: RepoName) -> list[TriggerView]:
    """The repository's triggers for the Builds tab (the caller is a repository admin)."""
    service = page.web.api.svc.build_triggers
    if service is None:
        return []
    return await answer(service.list(repo))


async def trigger_page(page: Page) -> Response:
    _params(page)
    repo = await admin_repo(page.ctx)
    view = await answer(triggers(page.ctx).get(repo, page.params["trigger_uuid"]))
    return page.render(
        "builds/trigger.html",
        full_name=repo.full,
        base=_url(repo),
        trigger_url=_url(repo, view.uuid),
        trigger=view,
        credentials=_credentials(view),
        templates=", ".join(view.config.get("tag_templates", [])),
    )


def _flag(form: dict[str, str], name: str) -> bool:
    return form.get(name) == "on"


async def _act(page: Page, name: str, *, normal: bool = True) -> Response:
    _params(page)
    repo = await admin_repo(page.ctx)  # 403/404 before anything else
    trigger_uuid = page.params["trigger_uuid"]
    form = await page.form()
    service = triggers(page.ctx)
    performer = page.ctx.performer()
    back = _url(repo, trigger_uuid)
    try:
        await admin_repo(page.ctx, normal=normal)
        if name == "activate":
            templates = [t.strip() for t in form.get("tag_templates", "").split(",") if t.strip()]
            config: dict[str, Any] = {
                "build_source": form.get("build_source", "").strip()[:MAX_FIELD],
                "dockerfile_path": form.get("dockerfile_path", "").strip()[:MAX_FIELD]
                or "/Dockerfile",
                "context": form.get("context", "").strip()[:MAX_FIELD] or "/",
                "branchtag_regex": form.get("branchtag_regex", "").strip()[:MAX_FIELD],
                "default_tag_from_ref": _flag(form, "default_tag_from_ref"),
                "latest_for_default_branch": _flag(form, "latest_for_default_branch"),
                "tag_templates": templates[:50],
            }
            robot = form.get("pull_robot", "").strip()[:255] or None
            user = page.require_user()
            if robot is not None and not await page.web.api.is_namespace_admin(
                user, robot.split("+", 1)[0]
            ):
                raise forbidden()  # the API's activate rule
            await answer(
                service.activate(repo, trigger_uuid, config, pull_robot=robot, performer=performer)
            )
            page.flash("Trigger activated.")
        elif name in ("enable", "disable"):
            await answer(
                service.set_enabled(repo, trigger_uuid, name == "enable", performer=performer)
            )
            page.flash(f"Trigger {name}d.")
        elif name == "delete":
            await answer(service.delete(repo, trigger_uuid, performer=performer))
            page.flash("Trigger deleted.")
            return page.redirect(_url(repo))
        elif name == "start":
            ref = form.get("commit_sha", "").strip()[:255]
            build = await answer(
                service.start(
                    repo, trigger_uuid, {"commit_sha": ref} if ref else {}, performer=performer
                )
            )
            page.flash(f"Build {build.display_name} queued.")
            return page.redirect(f"/repository/{repo.full}/build/{build.uuid}")
        else:
            raise not_found()
    except ApiProblem as e:
        if e.status in (403, 404):
            raise
        page.flash(str(e) or "Error", "danger")
    return page.redirect(back)


async def action_post(page: Page) -> Response:
    return await _act(page, page.params["action"])


def routes(web: WebApp) -> list[WebRoute]:
    if not web.api.settings.builds.enabled:
        return []
    one = "/repository/{repository:repository}/trigger/{trigger_uuid}"
    return [
        WebRoute(one + "/{action}", action_post, methods=("POST",)),
        WebRoute(one, trigger_page, no_store=True),  # shows the webhook URL's token
    ]
