FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir .
# The data volume (embedded Redis, built site, outbox) is mounted at /data: a new named volume
# takes this folder's owner, so the processes, which run as nobody, can write it.
RUN mkdir -p /data && chown nobody:nogroup /data
ENV PUBLISHER_DATA_DIR=/data
USER nobody
