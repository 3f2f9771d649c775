"""The HTTP endpoints, one module per concern; `ROUTES` is all but the registrations, which
`create_app` builds from the strategies it is given (`registrations.registration_endpoint`)."""

from marathon.routes import (
    knobs,
    lesson,
    otlp,
    pages,
    registration_status,
    scenarios,
    service,
    traces,
)

__all__ = ["ROUTES"]

ROUTES = [
    *registration_status.ROUTES,
    *traces.ROUTES,
    *otlp.ROUTES,
    *knobs.ROUTES,
    *scenarios.ROUTES,
    *lesson.ROUTES,
    *service.ROUTES,
    *pages.ROUTES,
]
