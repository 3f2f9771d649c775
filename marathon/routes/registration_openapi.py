"""What the OpenAPI document says about a registration endpoint: its JSON body and every
status it can answer, with the content type it really sends.

The handler reads its body itself (to answer 415 before parsing, and to list every field's
problem at once), so Litestar cannot infer the body: `RegistrationOperation` states it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType

from marathon import registration
from marathon.registration import DISTANCES, MAX_BODY_BYTES
from marathon.service import addresses

__all__ = ["RegistrationOperation", "responses"]


_REFUSED = registration.refused_ranges()


def _text(max_length: int, **extra: Any) -> Schema:
    # None of the characters the API refuses (`registration.REFUSED_CATEGORIES`, in the BMP);
    # at least one that is not white space either.
    return Schema(
        type=OpenAPIType.STRING,
        min_length=1,
        max_length=max_length,
        pattern=f"^[^{_REFUSED}]*[^\\s{_REFUSED}][^{_REFUSED}]*$",
        **extra,
    )


BODY = Schema(
    type=OpenAPIType.OBJECT,
    required=["firstName", "lastName", "email", "address", "distance"],
    additional_properties=False,
    properties={
        "firstName": _text(100),
        "lastName": _text(100),
        "email": Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.EMAIL,  # the API's rules are stricter: see docs/api.md
            max_length=addresses.MAX_LENGTH,
            examples=["ada@example.com"],
        ),
        "address": _text(500),
        "distance": Schema(type=OpenAPIType.STRING, enum=list(DISTANCES)),
    },
)


@dataclass
class RegistrationOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description=f"A runner (at most {MAX_BODY_BYTES} bytes); `application/json` only.",
            content={"application/json": OpenAPIMediaType(schema=BODY)},
        )


@dataclass
class Registered:
    id: str
    status_url: str


@dataclass
class Problem:
    status_code: int
    detail: str
    extra: dict[str, Any] | list[dict[str, Any]] | None = None


def responses(success: int) -> dict[int, ResponseSpec]:
    """Every status a registration endpoint can answer besides `success` (documented by the
    handler's own status code)."""
    problem = {
        400: "Invalid body or Marathon-Knobs header: one entry per field in `extra`",
        403: "A Marathon-Knobs header on a server with MARATHON_KNOBS=off",
        409: "A runner with this email address is registered",
        413: f"The body is over {MAX_BODY_BYTES} bytes",
        415: "The body is not sent as application/json",
        502: "The runner is stored, but the confirmation email failed (awaited strategies), or "
        "could not be started",
        503: "The database or queue is unavailable, or wait_until is full (Retry-After: nothing "
        "was stored, a retry can succeed)",
    }
    specs = {
        status: ResponseSpec(data_container=Problem, description=text)
        for status, text in problem.items()
    }
    specs[success] = ResponseSpec(data_container=Registered, description="Registered")
    return specs
