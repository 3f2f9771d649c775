"""Tracing: the SDK's set-up (`setup`), the lesson's span semantics (`ownership`: who answers
for a piece of work, how it ended), the in-process store (`store`), spans from other processes
(`otlp_import`), Jaeger's JSON shape (`jaeger_json`) and its query API (`jaeger_query`).

The names of `setup`, `ownership` and `scrub` are re-exported here: `tracing.work_span(...)`.
"""

from marathon.tracing.ownership import (
    EMAIL_SPAN,
    FREEZE_REASON,
    INSERT_SPAN,
    OUTCOME_ATTR,
    OWNER_ATTR,
    RUNNER_ATTR,
    STRATEGY_ATTR,
    WORK_SPANS,
    Owner,
    current_owner,
    dropped,
    owned_by,
    record_error,
    work_span,
    working_for,
)
from marathon.tracing.scrub import ScrubbingFilter, scrub
from marathon.tracing.setup import (
    OFF_MESSAGE,
    RUNNING_HEADER,
    SEMCONV_DEFAULT,
    SEMCONV_VARIABLE,
    STORE,
    enabled,
    instrument_http_client,
    instrumentation_enabled,
    otlp_enabled,
    provider_for,
    receive,
    route_span_details,
    setup,
    shutdown,
    tracer,
)

__all__ = [
    "EMAIL_SPAN",
    "FREEZE_REASON",
    "INSERT_SPAN",
    "OFF_MESSAGE",
    "OUTCOME_ATTR",
    "OWNER_ATTR",
    "RUNNER_ATTR",
    "RUNNING_HEADER",
    "SEMCONV_DEFAULT",
    "SEMCONV_VARIABLE",
    "STORE",
    "STRATEGY_ATTR",
    "WORK_SPANS",
    "Owner",
    "ScrubbingFilter",
    "current_owner",
    "dropped",
    "enabled",
    "instrument_http_client",
    "instrumentation_enabled",
    "otlp_enabled",
    "owned_by",
    "provider_for",
    "receive",
    "record_error",
    "route_span_details",
    "scrub",
    "setup",
    "shutdown",
    "tracer",
    "work_span",
    "working_for",
]
