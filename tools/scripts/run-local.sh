#!/usr/bin/env bash
# Builds everything and runs the local stack on loopback: redis-server, the
# rooted-broker (librdkafka's mock cluster) and referral-intake. Safe to run
# twice: a running stack is stopped first. Stop it with: tools/scripts/stop-local.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/scripts/setup.sh
ROOTED_BUILD_DIR=build tools/scripts/build.sh
tools/scripts/stop-local.sh >/dev/null 2>&1 || true

RUN=.run
mkdir -p "$RUN"
chmod 700 "$RUN"
# Local secrets, made once and kept out of git (.run/ is ignored).
[ -f "$RUN/token-secret" ] || head -c 48 /dev/urandom | base64 | tr -d '\n' > "$RUN/token-secret"
[ -f "$RUN/pupil-ref-secret" ] || head -c 48 /dev/urandom | base64 | tr -d '\n' > "$RUN/pupil-ref-secret"
REDIS_PORT="${ROOTED_REDIS_PORT:-6390}"

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --daemonize no --loglevel warning > "$RUN/redis.log" 2>&1 &
echo $! > "$RUN/redis.pid"
rm -f "$RUN/bootstrap"
build/tools/rooted-broker --bootstrap-file="$RUN/bootstrap" > "$RUN/broker.log" 2>&1 &
echo $! > "$RUN/broker.pid"
for _ in $(seq 1 100); do [ -s "$RUN/bootstrap" ] && break; sleep 0.1; done
BOOTSTRAP=$(cat "$RUN/bootstrap")

build/services/referral-intake/referral-intake \
  --grpc-address=127.0.0.1:50051 --metrics-address=127.0.0.1:9464 \
  --redis-port="$REDIS_PORT" --redis-db=1 --kafka-bootstrap="$BOOTSTRAP" \
  --token-secret-file="$RUN/token-secret" --pupil-ref-secret-file="$RUN/pupil-ref-secret" \
  > "$RUN/referral-intake.log" 2>&1 &
echo $! > "$RUN/referral-intake.pid"

for _ in $(seq 1 100); do grep -q '"msg":"ready"' "$RUN/referral-intake.log" && break; sleep 0.1; done
grep -q '"msg":"ready"' "$RUN/referral-intake.log" || { echo "referral-intake did not become ready; see $RUN/referral-intake.log"; exit 1; }

cat <<TXT
RootED local stack is running:
  redis-server       127.0.0.1:$REDIS_PORT            log $RUN/redis.log
  rooted-broker      $BOOTSTRAP   log $RUN/broker.log
  referral-intake    gRPC 127.0.0.1:50051, metrics http://127.0.0.1:9464/metrics
                     log $RUN/referral-intake.log
A token for a school member of staff:
  ROOTED_TOKEN_SECRET_FILE=$RUN/token-secret build/tools/rooted-token \\
      --role=school_staff --org=school:100001 --la=801 --subject=teacher-1
Stop everything with: tools/scripts/stop-local.sh
TXT
