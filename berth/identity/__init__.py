"""Identity: users, organizations, teams, robot accounts and repository permissions.

One domain, not five packages (decided when ``berth/accounts``, ``orgs``, ``teams``,
``robots`` and ``permissions`` were merged here). Their models are bound together: robots
are users of kind "robot"; a team's members are users or robots; a permission grants a role
on a repository to a user, robot or team, and a default permission (prototype) names users
and teams; deleting an organization deletes its teams, robots and permissions. As five
packages they imported each other in a cycle, through services, models and errors alike.
Here they share one ``models`` and one ``errors`` module and keep one service module per
concept:

* ``models``: ``User``, ``RobotAccount``, ``Team``, ``TeamMember``, ``TeamInvite``,
  ``RepositoryPermission``, ``Prototype`` (namespaces, shared with repositories, stay in
  ``berth.namespaces.models``);
* ``errors``: ``IdentityError`` (``NotFound``, ``InvalidRequest``, ``Forbidden``) and the
  account errors (``AccountError``);
* ``accounts`` (``AccountService``), ``orgs`` (``OrgService``), ``teams``
  (``TeamService``), ``robots`` (``RobotService``), ``permissions`` (``PermissionService``
  and ``access_facts``, the one query behind every access decision);
* ``passwords``: hashing; accounts own their passwords, ``berth.auth`` verifies logins with
  it;
* ``tasks``: the job that removes a deleted namespace's rows.

The rules (role order, scope caps, repository states, the decision itself) are in
``berth.authz``; identity never imports ``berth.auth``, ``berth.oauth`` or ``berth.repos``.
"""
