"""Team errors (see berth.orgs.errors for the base classes)."""

from __future__ import annotations

from berth.orgs.errors import InvalidRequest, NotFound


class TeamNotFound(NotFound):
    def __init__(self, org: str, team: str) -> None:
        super().__init__(f"Unknown team {team}", organization=org, team=team)


class InvalidTeamName(InvalidRequest):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"Invalid team name {name}: 2-255 characters of a-z, 0-9 and . _ - "
            "(starting and ending with a letter or digit)",
            team=name,
        )


class InvalidTeamRole(InvalidRequest):
    def __init__(self, role: str) -> None:
        super().__init__(f"Invalid role {role}: must be member, creator or admin", role=role)


class AlreadyMember(InvalidRequest):
    def __init__(self, member: str, team: str) -> None:
        super().__init__(f"User {member} is already a member of team {team}", member=member)


class InvalidTeamMember(InvalidRequest):
    pass


class LastAdminTeam(InvalidRequest):
    def __init__(self, team: str) -> None:
        super().__init__(
            f"Cannot remove team {team}: it is your last admin team in this organization",
            team=team,
        )


class InviteNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Invalid confirmation code or the invite is not for you")
