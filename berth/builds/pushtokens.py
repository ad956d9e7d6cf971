"""The build's push credential: a short-lived registry JWT bound to one repository.

The builder logs in to Berth's token endpoint as ``$buildtoken`` with this JWT as the
password (buildah speaks only Basic to a token endpoint). ``PushTokens.login`` (registered
as that special login in the composition root) accepts it while the build it was made for
is still running, as a principal bound to the build's repository (``only_repository``)
with at most write access there and no right to create repositories: the token endpoint
then grants push and pull on that repository and nothing anywhere else. The JWT carries no
access of its own, so used directly as a bearer it opens nothing.
"""

from __future__ import annotations

from berth.auth.errors import InvalidCredentials, InvalidToken
from berth.auth.services import AuthService
from berth.authz import Principal, RepoRole
from berth.builds.services import BuildService
from berth.builds.types import FINISHED_PHASES, BuildRecord

KIND = "build_push"


class PushTokens:
    def __init__(self, auth: AuthService, builds: BuildService, *, ttl_s: int) -> None:
        self.auth = auth
        self.builds = builds
        self.ttl_s = ttl_s

    def issue(self, build: BuildRecord) -> str:
        return self.auth.keyring.issue(
            build.manual_user or "(anonymous)",
            [],
            audience=self.auth.server_hostname,
            ttl_s=self.ttl_s,
            context={
                "kind": KIND,
                "build": build.uuid,
                "repository": f"{build.namespace}/{build.repository}",
            },
        )

    async def login(self, password: str) -> Principal:
        try:
            claims = await self.auth.verify_token(password)
        except InvalidToken as e:
            raise InvalidCredentials("Invalid build token") from e
        ctx = claims.context
        if ctx.get("kind") != KIND or not isinstance(ctx.get("repository"), str):
            raise InvalidCredentials("Invalid build token")
        build = await self.builds.find(str(ctx.get("build")))
        if build is None or build.phase in FINISHED_PHASES:
            raise InvalidCredentials("The build this token was made for has ended")
        subject = claims.subject
        return Principal(
            kind="user",
            name=None if subject == "(anonymous)" else subject,
            role_cap=RepoRole.WRITE,
            may_create_repos=False,
            only_repository=str(ctx["repository"]),
        )
