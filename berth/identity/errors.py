"""Errors of the identity domain (accounts, organizations, teams, robots, permissions).

No HTTP here: the /api/v1 edge maps ``NotFound`` to 404 (or Quay's quirks), ``InvalidRequest``
to 400 and ``Forbidden`` to 403. Every error carries a Quay-like ``message``.
"""

from __future__ import annotations

from berth.oci.names import NAMESPACE_RE


class IdentityError(Exception):
    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class NotFound(IdentityError):
    pass


class InvalidRequest(IdentityError):
    pass


class Forbidden(IdentityError):
    pass


class NamespaceNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown namespace {name}", namespace=name)


class OrganizationNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown organization {name}", organization=name)


class UserNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown user {name}", username=name)


NAME_RULE = "Namespace must match expression ^([a-z0-9]+(?:[._-][a-z0-9]+)*)$"
NAME_LENGTH_RULE = "Namespace must be between 2 and 255 characters in length"


def name_problem(name: str) -> str:
    """Quay's reason for refusing a namespace or team name."""
    if not 2 <= len(name) <= 255 and NAMESPACE_RE.fullmatch(name):
        return NAME_LENGTH_RULE
    return NAME_RULE


class InvalidOrganizationName(InvalidRequest):
    def __init__(self, name: str) -> None:
        super().__init__(f"Invalid namespace {name}: {name_problem(name)}", name=name)


class NameTaken(InvalidRequest):
    def __init__(self, name: str) -> None:
        super().__init__("A user or organization with this name already exists", name=name)


class EmailTaken(InvalidRequest):
    def __init__(self, email: str) -> None:
        super().__init__(f"Email has already been used: {email}", email=email)


class EmailRequired(InvalidRequest):
    def __init__(self) -> None:
        super().__init__("Email address is required")


class InvalidEmail(InvalidRequest):
    def __init__(self, email: str) -> None:
        super().__init__(f"Invalid email address: {email}", email=email)


class LastOrganizationAdmin(InvalidRequest):
    def __init__(self, org: str, member: str) -> None:
        super().__init__(
            "Cannot remove user as they are the only organization admin",
            organization=org,
            member=member,
        )


class InvalidTagExpiration(InvalidRequest):
    def __init__(self, value: int) -> None:
        super().__init__("Invalid tag expiration option", tag_expiration_s=value)


# ---- accounts (their own base: AccountError)


class AccountError(Exception):
    pass


class InvalidUsername(AccountError):
    def __init__(self, username: str) -> None:
        super().__init__(
            f"invalid username {username!r}: 2-255 characters of a-z, 0-9 and . _ - "
            "(starting and ending with a letter or digit)"
        )


class NamespaceTaken(AccountError):
    def __init__(self, name: str) -> None:
        super().__init__(f"the name {name!r} is already taken")
        self.name = name


class InvalidPassword(AccountError):
    pass


# ---- teams (messages are Quay's)


class TeamNotFound(NotFound):
    def __init__(self, org: str, team: str) -> None:
        super().__init__(f"Team '{team}' is not a team in org '{org}'", organization=org, team=team)


class InvalidTeamName(InvalidRequest):
    def __init__(self, name: str) -> None:
        super().__init__(f"Invalid team name {name}: {name_problem(name)}", team=name)


class InvalidTeamRole(InvalidRequest):
    def __init__(self, role: str) -> None:
        super().__init__(f"Invalid role {role}: must be member, creator or admin", role=role)


class AlreadyMember(InvalidRequest):
    def __init__(self, member: str, team: str) -> None:
        super().__init__(f"User {member} is already a member of team {team}", member=member)


class InvalidTeamMember(InvalidRequest):
    pass


class UnknownTeamMember(InvalidTeamMember):
    """The name to add is no user or robot."""

    def __init__(self, member: str) -> None:
        super().__init__("Unknown user", member=member)


class NotTeamMember(InvalidTeamMember):
    def __init__(self, member: str, team: str) -> None:
        super().__init__(f"User {member} does not belong to team {team}", member=member)


class LastAdminTeam(InvalidRequest):
    """Deleting or demoting the team would leave the acting user without admin rights."""

    def __init__(self, message: str, team: str) -> None:
        super().__init__(message, team=team)

    @classmethod
    def on_delete(cls, org: str, team: str, user: str) -> LastAdminTeam:
        return cls(
            f"Deleting team '{team}' would remove admin ability for user '{user}' "
            f"in organization '{org}'",
            team,
        )

    @classmethod
    def on_demote(cls, org: str, team: str) -> LastAdminTeam:
        return cls(
            f"Cannot remove admin from team '{team}' because calling user would no longer "
            f"have admin on org '{org}'",
            team,
        )

    @classmethod
    def on_leave(cls, team: str) -> LastAdminTeam:
        return cls("User cannot remove themselves from their only admin team.", team)


class InvalidInviteCode(InvalidRequest):
    def __init__(self) -> None:
        super().__init__("Invalid confirmation code.")


class InviteForAnotherUser(InvalidInviteCode):
    def __init__(self, addressee: str) -> None:
        InvalidRequest.__init__(
            self,
            f'This invite is intended for user "{addressee}". '
            "Please login to that account and try again.",
            addressee=addressee,
        )


class EmailInviteNotFound(NotFound):
    def __init__(self, team: str, email: str) -> None:
        super().__init__(f"No invite for {email} to team {team}", team=team, email=email)


# ---- robot accounts


class RobotNotFound(InvalidRequest):
    """Quay answers 400 (not 404) for an unknown robot, and clients rely on it."""

    def __init__(self, name: str) -> None:
        super().__init__("Could not find robot with specified username", robot=name)


class InvalidRobotName(InvalidRequest):
    def __init__(self, short: str) -> None:
        super().__init__(
            f"The name for the robot '{short}' is invalid: 2-255 characters of a-z, 0-9 "
            "and . _ - (starting and ending with a letter or digit)",
            robot=short,
        )


class RobotExists(InvalidRequest):
    def __init__(self, name: str) -> None:
        super().__init__(f"Existing robot with name: {name}", robot=name)


class RobotsDisabled(InvalidRequest):
    """ROBOTS_DISALLOW: no new robot accounts (Quay's wording)."""

    def __init__(self) -> None:
        super().__init__("Robot accounts have been disabled. Please contact your administrator.")


class InvalidDescription(InvalidRequest):
    def __init__(self) -> None:
        super().__init__("The description may have at most 255 characters")


# ---- permissions


class RepositoryNotFound(NotFound):
    def __init__(self, repo: str) -> None:
        super().__init__(f"Unknown repository {repo}", repository=repo)


class InvalidRole(InvalidRequest):
    def __init__(self, role: str) -> None:
        super().__init__(f"Invalid role {role}: must be read, write or admin", role=role)


class OwnerMustBeAdmin(InvalidRequest):
    def __init__(self) -> None:
        super().__init__("Namespace owner must always be admin.")


class PermissionNotFound(InvalidRequest):
    """Quay answers 400 for a missing permission."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} does not have permission for repo.")


class InvalidDelegate(InvalidRequest):
    pass


class PrototypeNotFound(NotFound):
    def __init__(self, prototype_id: str) -> None:
        super().__init__("Unknown prototype", prototype=prototype_id)


class TeamSyncError(AccountError):
    """Team syncing can't be set up as asked (Quay's InvalidRequest text in ``str``)."""
