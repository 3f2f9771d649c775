"""The email client's transport (httpx over aiohttp) keeps httpx's contract: its errors, its
decoding, its timeouts, whatever the server does."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from marathon.service.transport import AiohttpTransport

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + await reader.readexactly(length)


def _client(**kw: float) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=4, keepalive_expiry=4)
    return httpx.AsyncClient(transport=AiohttpTransport(limits), timeout=httpx.Timeout(**kw))


async def test_the_request_goes_out_as_httpx_built_it_and_gzip_is_decoded_once() -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await _read_request(reader))
        body = gzip.compress(b'{"id": "e1"}')
        writer.write(
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
            b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    async for url in _serve(handler):
        async with _client(timeout=5) as client:
            r = await client.post(url + "/emails", json={"to": ["x"]}, headers={"X-Knob": "1"})
    assert (r.status_code, r.json(), r.http_version) == (201, {"id": "e1"}, "HTTP/1.1")
    [request] = seen
    head, _, body = request.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /emails HTTP/1.1")
    assert b"x-knob: 1" in head.lower() and body == b'{"to":["x"]}'
    assert head.lower().count(b"user-agent:") == 1, "only httpx's own headers, none added"


async def test_a_refused_connection_is_httpx_connect_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nobody listens there
    async with _client(timeout=5) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/")


async def test_a_server_that_never_answers_is_httpx_read_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        try:
            await asyncio.wait_for(reader.read(), 5)  # until the client gives up and hangs up
        finally:
            writer.close()

    async for url in _serve(handler):
        async with _client(timeout=5, read=0.2) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(url + "/")


async def test_a_hang_up_mid_response_is_an_httpx_transport_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        writer.close()

    async for url in _serve(handler):
        async with _client(timeout=5) as client:
            with pytest.raises(httpx.TransportError):
                await client.get(url + "/")
