"""The HTTP endpoints, one module per concern; `ROUTES` is all but the registrations, which
`create_app` builds from the strategies it is given (`registrations.registration_endpoint`)."""

from marathon.routes import knobs_and_scenarios, otlp, pages, registrations, service, traces

__all__ = ["ROUTES"]

ROUTES = [
    *registrations.ROUTES,
    *traces.ROUTES,
    *otlp.ROUTES,
    *knobs_and_scenarios.ROUTES,
    *service.ROUTES,
    *pages.ROUTES,
]
