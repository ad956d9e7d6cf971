"""Notifications: repository and namespace events delivered by e-mail, webhook, Slack and
in-app (Quay's bell), plus the e-mails Berth owes (team invitations, address confirmations,
password recovery). See docs/notifications.md.

* ``events``: the event catalogue, payload builders and filters;
* ``hooks``: ``notify`` (producers call it in their transaction), the push and invitation
  listeners the registry and identity are given;
* ``methods/``: one module per method;
* ``services``: the API's operations; ``delivery``: the job handlers; ``mail``: SMTP.
"""
