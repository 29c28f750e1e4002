"""What the routers share: the process's services, from the app's state, and whether the
server is stopping (``Stopping``)."""

from __future__ import annotations

import asyncio

from fastapi import Request

from service.container import Services


def services_of(request: Request) -> Services:
    """The services the app was started with."""
    return request.app.state.services  # type: ignore[no-any-return]


class Stopping:
    """Set when a stop signal arrives (from its handler, on any thread); awaited on the
    app's event loop by what would otherwise run on past it (a streamed answer waiting for
    the model), so it can end now and say why."""

    def __init__(self) -> None:
        self.is_set = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self) -> None:
        """Attach to the running loop (the app's lifespan does, at start-up)."""
        self._loop, self._event = asyncio.get_running_loop(), asyncio.Event()
        if self.is_set:
            self._event.set()

    def set(self) -> None:
        """The server is stopping: safe from a signal handler or another thread."""
        self.is_set = True
        loop, event = self._loop, self._event
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    async def wait(self) -> None:
        """Return once the server is stopping."""
        if self._event is None:
            self.bind()
        assert self._event is not None
        await self._event.wait()


def stopping_of(request: Request) -> Stopping:
    """The app's stop flag."""
    return request.app.state.stopping  # type: ignore[no-any-return]
