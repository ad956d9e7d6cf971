"""Identity subcommands: what automation (python-quay-tool) does, over the same services.

  berth org create NAME [--email E] [--owner USER]
  berth robot create NS NAME [--description D]
  berth team create ORG NAME --role member|creator|admin [--description D]
  berth team add-member ORG TEAM USER
  berth prototype create ORG (--delegate-user U | --delegate-team T | --delegate-robot R)
                         --role read|write|admin [--activating-user U]
  berth repo set-permission NS/REPO (--user U | --team T | --robot R) --role read|write|admin
  berth repo set-visibility NS/REPO public|private
Each takes --config FILE or --data-dir DIR like the other commands.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from berth.authz import RepoRole, TeamRole
from berth.cli.common import cli_settings, config_options, run_with_services

if TYPE_CHECKING:
    from berth.services import Services

T = TypeVar("T")
REPO_ROLES = click.Choice([role.value for role in RepoRole])


def _run(config: str | None, data_dir: str | None, work: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``work`` over the configured instance's services; report domain errors."""
    from berth.identity.errors import IdentityError
    from berth.registry.errors import RegistryError

    try:
        return run_with_services(cli_settings(config, data_dir), work)
    except IdentityError as e:
        click.echo(f"berth: {e.message}", err=True)
        raise SystemExit(1) from e
    except RegistryError as e:
        click.echo(f"berth: {e}", err=True)
        raise SystemExit(1) from e


def _repo(svc: Services, name: str) -> Any:
    from berth.registry.repositories import parse_repo_name

    return parse_repo_name(name, library=svc.registry.library)


def _one_of(**options: str | None) -> tuple[str, str]:
    given = [(k, v) for k, v in options.items() if v]
    if len(given) != 1:
        names = ", ".join("--" + k.replace("_", "-") for k in options)
        raise click.UsageError(f"give exactly one of {names}")
    return given[0]


# ---- org ---------------------------------------------------------------------------------
@click.group()
def org() -> None:
    """Organizations."""


@org.command("create")
@click.argument("name")
@click.option("--email", default=None, help="Contact e-mail of the organization.")
@click.option("--owner", default=None, help="User placed in the owners team (admin).")
@config_options
def org_create(
    name: str, email: str | None, owner: str | None, config: str | None, data_dir: str | None
) -> None:
    """Create an organization (with its owners team)."""
    info = _run(config, data_dir, lambda c: c.orgs.create(name, creator=owner, email=email))
    click.echo(f"created organization {info.name}")


# ---- robot -------------------------------------------------------------------------------
@click.group()
def robot() -> None:
    """Robot accounts."""


@robot.command("create")
@click.argument("namespace")
@click.argument("name")
@click.option("--description", default="", help="What the robot is for.")
@config_options
def robot_create(
    namespace: str, name: str, description: str, config: str | None, data_dir: str | None
) -> None:
    """Create NAMESPACE+NAME and print its token."""
    info = _run(
        config, data_dir, lambda c: c.robots.create(namespace, name, description=description)
    )
    click.echo(f"created robot {info.name}")
    click.echo(f"token: {info.token}")


# ---- team --------------------------------------------------------------------------------
@click.group()
def team() -> None:
    """Teams of an organization."""


@team.command("create")
@click.argument("org_name", metavar="ORG")
@click.argument("name")
@click.option("--role", type=click.Choice([role.value for role in TeamRole]), required=True)
@click.option("--description", default=None)
@config_options
def team_create(
    org_name: str,
    name: str,
    role: str,
    description: str | None,
    config: str | None,
    data_dir: str | None,
) -> None:
    """Create a team (or change its role and description)."""
    info, created = _run(
        config,
        data_dir,
        lambda c: c.teams.create_or_update(org_name, name, role=role, description=description),
    )
    click.echo(f"{'created' if created else 'updated'} team {org_name}/{info.name} ({info.role})")


@team.command("add-member")
@click.argument("org_name", metavar="ORG")
@click.argument("team_name", metavar="TEAM")
@click.argument("member", metavar="USER")
@config_options
def team_add_member(
    org_name: str, team_name: str, member: str, config: str | None, data_dir: str | None
) -> None:
    """Add a robot or org member to a team; other users are invited."""
    info = _run(config, data_dir, lambda c: c.teams.add_member(org_name, team_name, member))
    if info.invited:
        click.echo(f"invited {member} to {org_name}/{team_name} (joins on accepting)")
    else:
        click.echo(f"added {member} to {org_name}/{team_name}")


# ---- prototype ---------------------------------------------------------------------------
@click.group()
def prototype() -> None:
    """Default permissions of an organization's new repositories."""


@prototype.command("create")
@click.argument("org_name", metavar="ORG")
@click.option("--delegate-user", default=None)
@click.option("--delegate-team", default=None)
@click.option("--delegate-robot", default=None, help="ORG+NAME, or NAME within ORG.")
@click.option("--role", type=REPO_ROLES, required=True)
@click.option("--activating-user", default=None, help="Only for repositories this user creates.")
@config_options
def prototype_create(
    org_name: str,
    delegate_user: str | None,
    delegate_team: str | None,
    delegate_robot: str | None,
    role: str,
    activating_user: str | None,
    config: str | None,
    data_dir: str | None,
) -> None:
    """Create a default permission."""
    kind, who = _one_of(
        delegate_user=delegate_user, delegate_team=delegate_team, delegate_robot=delegate_robot
    )
    if kind == "delegate_robot" and "+" not in who:
        who = f"{org_name}+{who}"
    info = _run(
        config,
        data_dir,
        lambda c: c.permissions.create_prototype(
            org_name,
            role,
            delegate_user=who if kind != "delegate_team" else None,
            delegate_team=who if kind == "delegate_team" else None,
            activating_user=activating_user,
        ),
    )
    click.echo(
        f"created default permission {info.id}: {info.delegate.kind} {info.delegate.name} "
        f"gets {info.role}" + (f" when {activating_user} creates" if activating_user else "")
    )


# ---- repo --------------------------------------------------------------------------------
@click.group()
def repo() -> None:
    """Repository permissions and visibility."""


@repo.command("set-permission")
@click.argument("name", metavar="NS/REPO")
@click.option("--user", default=None)
@click.option("--team", "team_name", default=None)
@click.option("--robot", "robot_name", default=None, help="NS+NAME, or NAME within NS.")
@click.option("--role", type=REPO_ROLES, required=True)
@config_options
def repo_set_permission(
    name: str,
    user: str | None,
    team_name: str | None,
    robot_name: str | None,
    role: str,
    config: str | None,
    data_dir: str | None,
) -> None:
    """Give a user, robot or team a role on a repository."""
    kind, who = _one_of(user=user, team=team_name, robot=robot_name)

    async def work(c: Services) -> None:
        target = _repo(c, name)
        if kind == "team":
            await c.permissions.set_team_permission(target, who, role)
        else:
            username = f"{target.namespace}+{who}" if kind == "robot" and "+" not in who else who
            await c.permissions.set_user_permission(target, username, role)

    _run(config, data_dir, work)
    click.echo(f"{kind} {who} has {role} on {name}")


@repo.command("set-visibility")
@click.argument("name", metavar="NS/REPO")
@click.argument("visibility", type=click.Choice(["public", "private"]))
@config_options
def repo_set_visibility(
    name: str, visibility: str, config: str | None, data_dir: str | None
) -> None:
    """Make a repository public or private."""

    async def work(c: Services) -> None:
        await c.permissions.set_visibility(_repo(c, name), visibility == "public")

    _run(config, data_dir, work)
    click.echo(f"{name} is now {visibility}")


def register(main: click.Group) -> None:
    for group in (org, robot, team, prototype, repo):
        main.add_command(group)
