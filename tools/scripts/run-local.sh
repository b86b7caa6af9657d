#!/usr/bin/env bash
# Builds everything and runs the local stack on loopback: redis-server, the
# rooted-broker (librdkafka's mock cluster) and the five services,
# then streams a fictional council's registers into risk-scoring. Safe to run
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

# start_service NAME GRPC_PORT METRICS_PORT REDIS_DB [FLAGS...]: starts one
# service with the shared local flags and waits until it reports ready.
start_service() {
  local name=$1 grpc=$2 metrics=$3 db=$4
  shift 4
  "build/services/$name/$name" \
    --grpc-address=127.0.0.1:"$grpc" --metrics-address=127.0.0.1:"$metrics" \
    --redis-port="$REDIS_PORT" --redis-db="$db" --kafka-bootstrap="$BOOTSTRAP" \
    --token-secret-file="$RUN/token-secret" "$@" > "$RUN/$name.log" 2>&1 &
  echo $! > "$RUN/$name.pid"
  for _ in $(seq 1 100); do grep -q '"msg":"ready"' "$RUN/$name.log" && return 0; sleep 0.1; done
  echo "$name did not become ready; see $RUN/$name.log"
  exit 1
}

# Each service has a Redis of its own; locally, a database number each.
start_service referral-intake 50051 9464 1 --pupil-ref-secret-file="$RUN/pupil-ref-secret"
start_service risk-scoring 50052 9465 2 --pupil-ref-secret-file="$RUN/pupil-ref-secret" \
  --la-code=801
start_service forum-scheduling 50053 9466 3
start_service directory-triage 50054 9467 4
start_service fund-payments 50055 9468 5

# A fictional council's first half-term of registers, so the lists have pupils on them.
build/tools/rooted-cohort --target=127.0.0.1:50052 --token-secret-file="$RUN/token-secret" \
  --pupils="${ROOTED_DEMO_PUPILS:-5000}" --schools=10 --days=35 > "$RUN/cohort.log" 2>&1 ||
  { echo "loading the demo cohort failed; see $RUN/cohort.log"; exit 1; }

cat <<TXT
RootED local stack is running:
  redis-server       127.0.0.1:$REDIS_PORT            log $RUN/redis.log
  rooted-broker      $BOOTSTRAP   log $RUN/broker.log
  referral-intake    gRPC 127.0.0.1:50051, metrics http://127.0.0.1:9464/metrics
                     log $RUN/referral-intake.log
  risk-scoring       gRPC 127.0.0.1:50052, metrics http://127.0.0.1:9465/metrics
                     log $RUN/risk-scoring.log; demo council 801: $(grep -o 'streamed: .*' "$RUN/cohort.log")
  forum-scheduling   gRPC 127.0.0.1:50053, metrics http://127.0.0.1:9466/metrics
                     log $RUN/forum-scheduling.log
  directory-triage   gRPC 127.0.0.1:50054, metrics http://127.0.0.1:9467/metrics
                     log $RUN/directory-triage.log
  fund-payments      gRPC 127.0.0.1:50055, metrics http://127.0.0.1:9468/metrics
                     log $RUN/fund-payments.log
A token for a school member of staff:
  ROOTED_TOKEN_SECRET_FILE=$RUN/token-secret build/tools/rooted-token \\
      --role=school_staff --org=school:100001 --la=801 --subject=teacher-1
Stop everything with: tools/scripts/stop-local.sh
TXT
