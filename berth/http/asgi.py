"""ASGI entry point for server worker processes (``berth serve`` starts Granian on it).

The parent process passes its resolved options in ``BERTH_SERVE_OPTIONS`` (JSON) so every
worker parses the same configuration once at start.
"""

from __future__ import annotations

import json
import os

from starlette.applications import Starlette


def create_from_env() -> Starlette:
    from berth.app import create_app
    from berth.config import load_settings

    opts = json.loads(os.environ.get("BERTH_SERVE_OPTIONS", "{}"))
    env = dict(os.environ)
    env.update(opts.get("env", {}))
    settings = load_settings(opts.get("config"), data_dir=opts.get("data_dir"), env=env)
    return create_app(settings)
