# One image for both services; docker-compose.yml picks the command. See docs/deploy.md.
FROM python:3.12-slim-bookworm

# OpenCV's headless wheel needs only these system libraries at run time (no libGL:
# the detector never opens a window); PyAV's wheel brings its own FFmpeg.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libglib2.0-0 libgomp1 \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/quickcam
COPY pyproject.toml README.md ./
COPY common ./common
COPY detector ./detector
COPY uploader ./uploader
# The folders below /data exist in the image, owned by the service user, so named
# volumes mounted on them start with that owner (and /data/link, the private link
# socket's folder, with mode 0700). Group video: USB cameras.
RUN pip install . \
    && useradd --system --uid 10001 --user-group --groups video --home-dir /data --shell /usr/sbin/nologin quickcam \
    && mkdir -p /data/outbox /data/spool /data/state /data/storage /data/logs /data/link \
    && chown -R quickcam:quickcam /data \
    && chmod 700 /data/link

USER quickcam
WORKDIR /data
# Secrets arrive as files under /run/secrets (compose secrets), never in the image.
# QUICKCAM_ENV_FILE is the config key env_file; the log files go to the logs volume.
ENV QUICKCAM_ENV_FILE=/run/secrets/tokens.env \
    QUICKCAM_LOGGING__FILE=/data/logs/run.log

# Healthy while the processes that left a status file here (the uploader's
# state/status.json, the detector's outbox/detector-status.json, every 1-2 s) refresh
# it, no camera has been other than ok for more than 30 s and no detector went silent;
# docker-compose.yml names each service's role instead (docs/deploy.md, Health checks).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["quickcam", "status", "--healthcheck", "--config", "/config/quickcam.toml"]

ENTRYPOINT ["quickcam"]
CMD ["--help"]
