#!/usr/bin/env bash
# Makes sure what the tests need is here: a Redis answering on 127.0.0.1:6379 (started, and
# installed from Debian's packages, when it is not) and Debian's Celery 5.2 under
# /usr/bin/python3 for the interop tests. It never stops, restarts or flushes a running Redis.
set -euo pipefail

REDIS_HOST=127.0.0.1
REDIS_PORT=6379
apt_updated=0

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "services.sh: $1 is missing and installing it needs root (apt-get)." >&2
    exit 1
  fi
}

apt_install() {
  need_root "$*"
  if [ "$apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

redis_answers() {
  # PING over bash's /dev/tcp, so redis-cli need not be installed.
  local reply
  reply=$(timeout 2 bash -c "exec 3<>/dev/tcp/$REDIS_HOST/$REDIS_PORT && printf 'PING\r\n' >&3 && head -c 7 <&3" 2>/dev/null || true)
  [[ "$reply" == +PONG* ]]
}

if redis_answers; then
  echo "services.sh: Redis answers on $REDIS_HOST:$REDIS_PORT"
else
  command -v redis-server >/dev/null || apt_install redis-server
  echo "services.sh: starting redis-server on $REDIS_HOST:$REDIS_PORT"
  redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --save "" --appendonly no \
    --logfile /tmp/celeriac-redis-$REDIS_PORT.log
  for _ in $(seq 1 50); do redis_answers && break; sleep 0.1; done
  redis_answers || { echo "services.sh: redis-server did not answer on $REDIS_PORT" >&2; exit 1; }
fi
# Suites that stop or restart Redis start their own redis-server on a free port.
command -v redis-server >/dev/null || apt_install redis-server

if /usr/bin/python3 -c 'import celery, redis, msgpack' 2>/dev/null; then
  :
else
  echo "services.sh: installing Debian's python3-celery python3-redis python3-msgpack"
  apt_install python3-celery python3-redis python3-msgpack
fi
echo "services.sh: Celery $(/usr/bin/python3 -c 'import celery; print(celery.__version__)') under /usr/bin/python3"
