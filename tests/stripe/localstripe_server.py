"""Serves localstripe (a Stripe emulator) on 127.0.0.1 for payledger's tests.

Usage: python localstripe_server.py [PORT]   (0 or nothing: a free port)

Prints `localstripe listening on http://127.0.0.1:PORT` once it accepts
connections, and exits when its standard input closes, so the test process
that started it never leaves it behind. State stays in memory: localstripe's
pickle at the fixed path /tmp/localstripe.pickle is neither read nor written,
so instances never share or clobber each other's state.
"""

import os
import socket
import sys
import threading

import localstripe.resources as resources

import localstripe.webhooks as webhooks

# Keep the state in memory only (see the module docstring).
resources.Store.dump_to_disk = lambda self: None
resources.Store.try_load_from_disk = lambda self: None


class _Snapshots(dict):
    """localstripe delivers an event by iterating over every registered
    webhook while awaiting each POST; a registration arriving meanwhile
    raises "dictionary changed size during iteration" and the event is lost
    for the remaining endpoints. Iterating over a snapshot avoids that."""

    def values(self):
        return list(super().values())


webhooks._webhooks = _Snapshots(webhooks._webhooks)

from aiohttp import web  # noqa: E402
from localstripe.server import app  # noqa: E402


def exit_when_stdin_closes():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    bound = sock.getsockname()[1]
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()

    async def announce(_app):
        print(f"localstripe listening on http://127.0.0.1:{bound}", flush=True)

    app.on_startup.append(announce)
    web.run_app(app, sock=sock, access_log=None, print=None)


if __name__ == "__main__":
    main()
