"""An in-process store of the most recent traces: the tests' and the built-in views' Jaeger."""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

__all__ = ["MAX_SPANS_PER_TRACE", "TraceStore"]

# A registration's trace has a dozen spans; a client that sends one fixed `traceparent` with
# every request would otherwise grow one trace without bound (20,000 requests: 162 MB).
MAX_SPANS_PER_TRACE = 1000


# A span with one of these makes its trace a registration's (the request, or a queue attempt).
REGISTRATION_ATTRS = ("marathon.strategy", "marathon.runner_id")


class TraceStore(SpanProcessor):
    """Keeps the finished spans of the last `limit` traces, and counts spans still running.

    A span processor rather than an exporter, so it sees spans start: a trace whose spans have
    all ended is complete, which is how the demo knows the background work has finished.

    Registration traces come first: when the store is full it evicts the oldest finished trace
    that is not a registration's (noise, should any appear), and only then the oldest trace.
    """

    def __init__(self, limit: int = 200, max_spans: int = MAX_SPANS_PER_TRACE) -> None:
        self.limit, self.max_spans = limit, max_spans
        self.dropped = 0  # spans not kept because their trace was full
        self._lock = threading.Lock()
        self._traces: OrderedDict[int, list[ReadableSpan]] = OrderedDict()
        self._running: defaultdict[int, int] = defaultdict(int)
        self._registrations: set[int] = set()
        # The traces not (yet) known as registrations, oldest first: where eviction looks for
        # noise, without walking every kept trace for each new one.
        self._unmarked: OrderedDict[int, None] = OrderedDict()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        trace_id = span.get_span_context().trace_id
        with self._lock:
            if trace_id not in self._traces:
                self._traces[trace_id] = []
                self._unmarked[trace_id] = None
            self._running[trace_id] += 1
            self._mark(trace_id, span)
            while len(self._traces) > self.limit:
                self._evict()

    def on_end(self, span: ReadableSpan) -> None:
        trace_id = span.context.trace_id if span.context else 0
        with self._lock:
            if trace_id in self._traces:
                self._running[trace_id] -= 1
                if len(self._traces[trace_id]) < self.max_spans:
                    self._traces[trace_id].append(span)
                else:
                    self.dropped += 1
                self._mark(trace_id, span)

    def add_finished(self, spans: Iterable[ReadableSpan]) -> None:
        """Finished spans another process made (received over OTLP), kept like our own: within
        the same limits, registrations first. Their start was never seen here, so they never
        count as running; a span sent twice (an exporter's retry) is kept once."""
        with self._lock:
            for span in spans:
                if span.context is None:
                    continue
                trace_id, span_id = span.context.trace_id, span.context.span_id
                if trace_id not in self._traces:
                    self._traces[trace_id] = []
                    self._unmarked[trace_id] = None
                kept = self._traces[trace_id]
                if any(s.context is not None and s.context.span_id == span_id for s in kept):
                    continue
                if len(kept) < self.max_spans:
                    kept.append(span)
                else:
                    self.dropped += 1
                self._mark(trace_id, span)
                while len(self._traces) > self.limit:
                    self._evict()

    def _mark(self, trace_id: int, span: ReadableSpan) -> None:
        if trace_id in self._registrations:
            return
        attributes = span.attributes or {}
        if any(name in attributes for name in REGISTRATION_ATTRS):
            self._registrations.add(trace_id)
            self._unmarked.pop(trace_id, None)

    def _evict(self) -> None:
        # A trace still running may become a registration's (the request span says so only
        # once the handler runs): only finished traces count as noise.
        noise = next((tid for tid in self._unmarked if self._running.get(tid, 0) == 0), None)
        old = noise if noise is not None else next(iter(self._traces))
        del self._traces[old]
        self._running.pop(old, None)
        self._registrations.discard(old)
        self._unmarked.pop(old, None)

    def spans(self, trace_id: int) -> list[ReadableSpan]:
        """The finished spans of one trace (in the order they ended)."""
        with self._lock:
            return list(self._traces.get(trace_id, ()))

    def running(self, trace_id: int) -> int:
        """How many spans of the trace have started and not yet ended."""
        with self._lock:
            return self._running.get(trace_id, 0)

    def recent(
        self, limit: int = 20, where: Callable[[list[ReadableSpan]], bool] | None = None
    ) -> list[int]:
        """Trace ids, newest first, optionally only those whose spans satisfy `where`."""
        with self._lock:
            items = [(tid, list(spans)) for tid, spans in reversed(self._traces.items())]
        return [tid for tid, spans in items if spans and (where is None or where(spans))][:limit]

    def clear(self) -> None:
        with self._lock:
            self._traces.clear()
            self._running.clear()
            self._registrations.clear()
            self._unmarked.clear()

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
