# One image for both services; docker-compose.yml picks the command.
FROM python:3.12-slim

# OpenCV's headless wheel needs only a few system libraries at run time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libglib2.0-0 libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/quickcam
COPY pyproject.toml README.md ./
COPY common ./common
COPY detector ./detector
COPY uploader ./uploader
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 --groups video quickcam \
    && mkdir -p /data && chown quickcam /data

USER quickcam
WORKDIR /data
# Secrets arrive as files under /run/secrets (compose secrets), never in the image.
ENV QUICKCAM_ENV_FILE=/run/secrets/tokens.env

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import json,sys,time; s=json.load(open('/data/state/status.json')); sys.exit(time.time()-s['time']>10)" \
        || test -d /data/outbox

ENTRYPOINT ["quickcam"]
CMD ["--help"]
