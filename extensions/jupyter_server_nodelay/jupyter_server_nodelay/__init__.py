"""A Jupyter Server extension that turns off Nagle's algorithm on kernel websockets.

Why: a kernel answers a cell with a burst of small messages (status busy, execute_input, the
result, status idle), and the server relays each one as its own websocket frame. With Nagle's
algorithm on, the kernel's own TCP stack holds back every frame after the first until the browser
acknowledges the first one, and browsers delay that ACK (about 40 ms on Linux). So every cell,
in every kernel, costs about 40 ms more than it needs. Tornado documents the cure on
`WebSocketHandler.set_nodelay`: call it once the connection is open.

What it does: when the server loads it, it finds the routes of the server's own web application
whose handler is Jupyter Server's `KernelWebsocketHandler` (or a subclass of it) and points each at
a subclass whose `open` first calls `self.set_nodelay(True)`. That is the whole change; upstream it
is one line in `KernelWebsocketHandler.open`. It works the same with a local kernel manager and behind
`--gateway-url` (both use that handler; only the connection class differs).

What it never does: touch a message, the websocket protocol, the ZeroMQ side, or any class other
modules see (jupyter_server's handler class itself stays as it is; only this server's routes change).
Other websockets (terminals, events) keep tornado's default. On a Unix-socket server there is no
Nagle, and tornado's `set_nodelay` does nothing.

Enable: `pip install jupyter-server-nodelay` enables it (the wheel ships a file for
`jupyter_server_config.d`); `jupyter server extension disable jupyter_server_nodelay` turns it off.
"""

from __future__ import annotations

import functools

from jupyter_server.services.kernels.websocket import KernelWebsocketHandler
from tornado.routing import RuleRouter

__version__ = "0.1.0"

#: The line the server logs when the extension is active (tests and the bench look for it).
LOADED = "TCP_NODELAY on kernel websockets"


class NoDelayMixin:
    """Turns Nagle's algorithm off on a websocket as soon as it is open."""

    def open(self, *args, **kwargs):
        # Only here, after the handshake, does the handler own the connection's stream.
        self.set_nodelay(True)
        return super().open(*args, **kwargs)


@functools.cache
def nodelay_handler(handler: type) -> type:
    """`handler` with NoDelayMixin in front (one class per handler class, made once)."""
    return type(f"NoDelay{handler.__name__}", (NoDelayMixin, handler), {})


def _rules(router):
    for rule in getattr(router, "rules", ()):
        yield rule
        if isinstance(rule.target, RuleRouter):
            yield from _rules(rule.target)


def _is_kernel_websocket(target) -> bool:
    return (isinstance(target, type) and issubclass(target, KernelWebsocketHandler)
            and not issubclass(target, NoDelayMixin))


def patch_routes(web_app) -> int:
    """Point every kernel websocket route of `web_app` (a tornado Application) at its no-delay
    handler; returns how many routes changed."""
    changed = 0
    for rule in _rules(web_app.default_router):
        if _is_kernel_websocket(rule.target):
            rule.target = nodelay_handler(rule.target)
            changed += 1
    return changed


def _jupyter_server_extension_points():
    return [{"module": "jupyter_server_nodelay"}]


def _load_jupyter_server_extension(serverapp) -> None:
    changed = patch_routes(serverapp.web_app)
    if changed:
        serverapp.log.info("%s (%d route%s)", LOADED, changed, "" if changed == 1 else "s")
    else:  # a future jupyter_server that routes kernels elsewhere: say so rather than pretend
        serverapp.log.warning("jupyter_server_nodelay: no route to KernelWebsocketHandler found; "
                              "kernel websockets keep Nagle's algorithm")
