"""Quay's real automation, replayed call for call against a running Berth.

None of the three clients of issue 3 can be obtained from the registries this project
reaches (PyPI, Debian, npm); checked when this package was written:

* ``infra.quay_configuration`` (Ansible, formerly ``herve4m.quay``) is published on Ansible
  Galaxy only. The ``ansible`` community package does not bundle it in any version looked
  at: PyPI ansible 8.7.0, 10.7.0, 11.13.0, 12.3.0 and 14.5.0 (92-108 collections each, none
  named ``*quay*``), nor Debian bookworm's ``ansible`` 7.7.0 (109 collections).
* ``python-quay-tool`` (``quaytool``) lives in softwarefactory-project's Gerrit; PyPI has no
  ``quaytool`` and no ``python-quay-tool``.
* RDO's tag pruner (``quay_tag_pruner.py``) and bootstrap tasks are files of the sf-infra
  repository, not packaged anywhere.

So each module here is the FALLBACK the brief allows: it replays that client's exact HTTP
sequence, as ``shared/reference/quay-api.md`` section 6 records it (paths, methods, bodies,
headers, trailing slashes, which status codes the client accepts), with httpx against a real
``berth serve``. The code is written from that description, not copied from the clients.
podman, the fourth client of the scenarios, is real (Debian package).
"""
