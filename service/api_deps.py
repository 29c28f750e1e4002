"""What the routers share: the process's services, from the app's state."""

from __future__ import annotations

from fastapi import Request

from service.container import Services


def services_of(request: Request) -> Services:
    """The services the app was started with."""
    return request.app.state.services  # type: ignore[no-any-return]
