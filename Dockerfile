# syntax=docker/dockerfile:1
# One image for the API, the workers and the dashboard (docker-compose.yml runs all three).
#
#   docker build -t deconfound .                                   # CPU-only torch (the smaller image)
#   docker build -t deconfound --build-arg TORCH_VARIANT=cuda .    # torch with its CUDA libraries
#
# TORCH_VARIANT: cpu   PyTorch's CPU-only wheels (download.pytorch.org/whl/cpu)
#                cuda  the torch of PyPI, which on Linux x86_64 bundles its CUDA runtime: the host
#                      needs only the NVIDIA driver and the NVIDIA Container Toolkit
#                cuXYZ PyTorch's wheels for that CUDA version (e.g. cu126), from download.pytorch.org
# See docs/docker.md.
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim

ARG TORCH_VARIANT=cpu
# The Makefile's pin.
ARG TORCH_VERSION=2.13.0

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    DECONFOUND_DATA_DIR=/data

# torch first, in a layer of its own: the largest and the one that differs between variants.
RUN case "${TORCH_VARIANT}" in \
        cuda) index="" ;; \
        cpu|cu[0-9]*) index="--index-url https://download.pytorch.org/whl/${TORCH_VARIANT}" ;; \
        *) echo "TORCH_VARIANT must be cpu, cuda or cuXYZ, not '${TORCH_VARIANT}'" >&2; exit 1 ;; \
    esac \
 && pip install ${index} "torch==${TORCH_VERSION}"

WORKDIR /app

# The dependencies next, so that a change of the code alone reuses this layer: those of the
# service, the dashboard and PostgreSQL at the versions and hashes of requirements-up-lock.txt
# (`make lock`; what `make up` installs too). The lock leaves torch out; the build above stays.
COPY requirements-up-lock.txt ./
RUN pip install --require-hashes -r requirements-up-lock.txt

# Then the project itself, installed in place (editable): Alembic's migrations and the
# dashboard's assets are read from beside the code.
COPY pyproject.toml README.md ./
COPY jobs ./jobs
COPY backend ./backend
COPY dashboard ./dashboard
RUN pip install --no-deps -e . \
 && python -c "import backend.api, backend.queue.worker, dashboard.app" \
 && useradd --create-home --uid 1000 deconfound \
 && mkdir -p /data \
 && chown deconfound:deconfound /data

# A named volume mounted on /data starts as a copy of this (empty, deconfound-owned) directory.
USER deconfound
EXPOSE 8000 8050

# Without Compose: API, one worker and the dashboard in one container (`deconfound up`).
# docker-compose.yml gives each service its own command.
CMD ["deconfound", "up", "--host", "0.0.0.0"]
