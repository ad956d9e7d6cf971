"""ASGI entry point of a server worker (``berth serve`` runs Granian on
``berth.asgi:create_from_env``).

The parent process passes its resolved options in ``BERTH_SERVE_OPTIONS`` (JSON) so every
worker parses the same configuration once at start.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.applications import Starlette


def create_from_env() -> Starlette:
    """The app of one worker, returned once the database setup of ``berth serve`` is done
    (the app is built meanwhile: building it does not touch the database)."""
    from berth.config import load_settings
    from berth.http.app import create_app
    from berth.startup import wait_for_setup

    opts = json.loads(os.environ.get("BERTH_SERVE_OPTIONS", "{}"))
    env = dict(os.environ)
    env.update(opts.get("env", {}))
    settings = load_settings(opts.get("config"), data_dir=opts.get("data_dir"), env=env)
    app = create_app(settings)
    # Granian copies a response body chunk before ``send`` returns, so blob downloads may
    # hand it the storage driver's reusable buffers (ASGI test transports keep references).
    app.state.server_copies_body = True
    wait_for_setup(opts)
    return app
