"""Team errors (see berth.orgs.errors for the base classes). Messages are Quay's."""

from __future__ import annotations

from berth.orgs.errors import InvalidRequest, NotFound, name_problem


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
