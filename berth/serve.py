"""The server: ``berth serve`` parses the configuration, forks the database setup (schema
upgrade, first-run admin) into a child, and runs ``main`` here.

With one worker (the default on a two-core machine) the ``berth serve`` process serves
itself: Granian's embedded server on a uvloop loop, SIGTERM/SIGINT stopping it gracefully.
A supervising master would only cost a second interpreter's memory (~28 MB resident) and a
second interpreter's start (~0.3 s).

With several workers ``berth serve`` replaces itself (exec) with a slim master that only
supervises Granian's worker processes (each builds the app from ``BERTH_SERVE_OPTIONS``; see
``berth.asgi``) and respawns one that dies.

The setup runs while the server imports the application, which is most of a start's CPU:
on two cores the two overlap. The app answers requests only once the setup child has
written ``ok`` to its status file (``wait_for_setup``); when the setup fails, the server
stops and exits with status 1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from typing import Any

from berth.startup import SetupWatch


def _tls(opts: dict[str, Any]) -> dict[str, Any]:
    """Granian's TLS arguments (``berth serve`` checked the pair before starting)."""
    if not opts.get("ssl"):
        return {}
    from pathlib import Path

    from granian.constants import SSLProtocols

    cert, key = opts["ssl"]
    return {"ssl_cert": Path(cert), "ssl_key": Path(key), "ssl_protocol_min": SSLProtocols.tls12}


def main() -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    opts = json.loads(os.environ["BERTH_SERVE_OPTIONS"])
    watch = SetupWatch(opts["setup"]) if opts.get("setup") else None
    if watch is not None:
        # A setup that fails before Granian has put its own handlers in place must still
        # end the server with status 1, not with the default death by SIGTERM.
        def stop_before_serving(signum: int, _frame: object) -> None:
            raise SystemExit(1 if watch.failed else 128 + signum)

        signal.signal(signal.SIGTERM, stop_before_serving)
        watch.thread.start()
    try:
        if opts["workers"] == 1:
            _serve_in_process(opts)
            return
        Granian(
            "berth.asgi:create_from_env",
            factory=True,
            address=opts["host"],
            port=opts["port"],
            interface=Interfaces.ASGI,
            workers=opts["workers"],
            loop=Loops.uvloop,
            log_access=False,
            backlog=2048,
            respawn_failed_workers=True,
            **_tls(opts),
        ).serve()
    finally:
        if watch is not None:
            watch.close()
    if watch is not None and watch.failed:
        sys.exit(1)


class _NotExperimental(logging.Filter):
    """Granian logs a warning that its embedded server is experimental on every start;
    Berth's own tests cover the mode it uses, and operators should not be told otherwise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "experimental" not in record.getMessage()


def _serve_in_process(opts: dict[str, Any]) -> None:
    import uvloop
    from granian.constants import Interfaces
    from granian.server.embed import Server

    from berth.asgi import create_from_env

    async def run() -> None:
        server = Server(
            create_from_env,
            factory=True,
            address=opts["host"],
            port=opts["port"],
            interface=Interfaces.ASGI,
            log_access=False,
            backlog=2048,
            **_tls(opts),
        )
        logging.getLogger("_granian").addFilter(_NotExperimental())  # after its log setup
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, server.stop)
        await server.serve()

    uvloop.run(run())


if __name__ == "__main__":
    main()
