"""`POST /v1/traces`: an OTLP/HTTP (protobuf) receiver for the spans of marathon's own other
processes, e.g. the servers the `shutdown-mid-flight` scenario stops: they export here and
their spans outlive them, in this server's trace store (`marathon.tracing.otlp_import`).

It writes to what every learner sees: beyond loopback it needs the instructor's token, like
the other shared changes (`marathon.service.instructor`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from marathon import tracing
from marathon.service.instructor import require_admin
from marathon.tracing import otlp_import

__all__ = ["ROUTES"]

MAX_BODY_BYTES = 8 * 1024 * 1024  # an SDK batch is at most 512 spans: far below


@dataclass
class _ProtobufBody(Operation):
    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description="An OTLP `ExportTraceServiceRequest`, protobuf (gzip allowed).",
            content={
                otlp_import.MEDIA_TYPE: OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
                )
            },
        )


@post(
    "/v1/traces",
    status_code=200,
    media_type=otlp_import.MEDIA_TYPE,
    operation_class=_ProtobufBody,
    request_max_body_size=MAX_BODY_BYTES,
    responses={
        400: ResponseSpec(None, description="Not an OTLP trace export (the reason in `detail`)"),
        401: ResponseSpec(None, description="Beyond loopback: the instructor's token is needed"),
        403: ResponseSpec(None, description="Beyond loopback with no MARATHON_ADMIN_TOKEN"),
        413: ResponseSpec(None, description=f"More than {MAX_BODY_BYTES} bytes"),
        415: ResponseSpec(None, description=f"Not `{otlp_import.MEDIA_TYPE}`"),
    },
)
async def receive_traces(request: Request[Any, Any, State]) -> Response[bytes]:
    """Keep the finished spans of an OTLP/HTTP protobuf export in this server's trace store."""
    require_admin(request)
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != otlp_import.MEDIA_TYPE:
        raise HTTPException(
            status_code=415,
            detail=f"OTLP/HTTP protobuf only: Content-Type {otlp_import.MEDIA_TYPE}",
        )
    body = await request.body()
    if request.headers.get("content-encoding", "").strip().lower() == "gzip":
        inflate = zlib.decompressobj(wbits=31)  # gzip
        try:  # bounded: a small gzip bomb must not fill memory
            body = inflate.decompress(body, MAX_BODY_BYTES)
        except zlib.error as e:
            raise ValidationException(detail=f"bad gzip body: {e}") from None
        if inflate.unconsumed_tail:
            raise HTTPException(status_code=413, detail=f"more than {MAX_BODY_BYTES} bytes")
    try:
        spans = otlp_import.decode(body)
    except otlp_import.InvalidExport as e:
        raise ValidationException(detail=str(e)) from None
    tracing.receive(spans)
    return Response(
        ExportTraceServiceResponse().SerializeToString(), media_type=otlp_import.MEDIA_TYPE
    )


ROUTES = [receive_traces]
