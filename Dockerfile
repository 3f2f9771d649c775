# The marathon app (API, sandbox or worker: the command picks). Two stages: build a virtualenv
# from the pinned runtime lock, then copy only that virtualenv into a slim image.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
RUN python -m venv /venv
COPY requirements.lock ./
RUN /venv/bin/pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md ./
COPY marathon ./marathon
RUN /venv/bin/pip install --no-cache-dir --no-deps .

FROM python:${PYTHON_VERSION}-slim
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1
# Nothing is written at run time: the database and the traces backend are other services.
USER nobody
EXPOSE 8000 8025
CMD ["marathon", "serve", "--host", "0.0.0.0", "--port", "8000"]
