"""The server master process: ``berth serve`` prepares the data dir and database, then
replaces itself with this slim process, which only supervises Granian's workers (each
worker builds the app from ``BERTH_SERVE_OPTIONS``; see ``berth.http.asgi``)."""

from __future__ import annotations

import json
import os


def main() -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    opts = json.loads(os.environ["BERTH_SERVE_OPTIONS"])
    Granian(
        "berth.http.asgi:create_from_env",
        factory=True,
        address=opts["host"],
        port=opts["port"],
        interface=Interfaces.ASGI,
        workers=opts["workers"],
        loop=Loops.uvloop,
        log_access=False,
        backlog=2048,
        respawn_failed_workers=True,
    ).serve()


if __name__ == "__main__":
    main()
