"""Robot identity federation (Quay 3.13+): a CI job's own OIDC token for a robot token.

``GET /oauth2/federation/robot/token`` with HTTP Basic ``ns+robot : <external JWT>``: the
JWT's issuer and subject must match one of the robot's federation entries; its signature is
checked with the issuer's published keys (discovery and JWKS, fetched through
``berth.outbound``), and its expiry. The answer is a short-lived token of the robot, signed
with the registry's keys, that registry clients use as the robot's password on ``/v2/auth``
(``AuthService`` accepts it there). Each exchange is logged
(``federated_robot_token_exchange``).
"""

from __future__ import annotations

from typing import Any

import jwt

from berth.auth.errors import InvalidCredentials
from berth.auth.oidc import OidcError, OidcService
from berth.auth.settings import OidcSettings
from berth.identity.robots import RobotService
from berth.outbound import OutboundClients

FEDERATED_KIND = "federated_robot"
TOKEN_TTL_S = 3600


class RobotFederationExchange:
    def __init__(
        self,
        robots: RobotService,
        outbound: OutboundClients,
        *,
        issue: Any,
        ttl_s: int = TOKEN_TTL_S,
    ) -> None:
        """``issue(subject, context, ttl_s) -> str``: signs a registry token (AuthService)."""
        self.robots = robots
        self.outbound = outbound
        self.issue = issue
        self.ttl_s = ttl_s
        self._issuers: dict[str, OidcService] = {}

    def _verifier(self, issuer: str) -> OidcService:
        service = self._issuers.get(issuer)
        if service is None:
            settings = OidcSettings("federation", issuer, issuer, "", "")
            service = OidcService(settings, self.outbound, redirect_uri="")
            if len(self._issuers) > 256:
                self._issuers.clear()
            self._issuers[issuer] = service
        return service

    async def exchange(self, username: str, token: str, *, ip: str | None = None) -> str:
        found = await self.robots.federation_of(username)
        if found is None:
            raise InvalidCredentials("Robot account not found")
        robot, entries = found
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as e:
            raise InvalidCredentials("The federated token is not a valid JWT") from e
        issuer = str(unverified.get("iss") or "").rstrip("/")
        subject = str(unverified.get("sub") or "")
        match = next(
            (e for e in entries if e["issuer"].rstrip("/") == issuer and e["subject"] == subject),
            None,
        )
        if match is None:
            raise InvalidCredentials(
                "The federated token's issuer and subject match no federation of this robot"
            )
        try:
            claims = await self._verifier(issuer).verify(token, audience=None)
        except OidcError as e:
            raise InvalidCredentials(f"The federated token is refused: {e}") from e
        if claims.get("sub") != subject:
            raise InvalidCredentials("The federated token's subject does not match")
        if not robot.enabled:
            raise InvalidCredentials("Robot account is disabled")
        await self.robots.federated_login(username, issuer=issuer, subject=subject, ip=ip)
        context = {"kind": FEDERATED_KIND, "issuer": issuer, "subject": subject}
        return str(self.issue(username, context, self.ttl_s))
