#!/usr/bin/env bash
# Builds everything and runs the local stack on loopback: redis-server, the
# rooted-broker (librdkafka's mock cluster) and the five services, then plays
# a term of a fictional council's pilot through them (rooted-term) and prints
# what happened. Safe to run twice: a running stack is stopped first.
# Stop it with: tools/scripts/stop-local.sh
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
# The term is played on a clock the services share (weeks in minutes); it
# comes back to real time when the term is over.
CLOCK="$RUN/simulated-clock"
rm -f "$CLOCK"

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --daemonize no --loglevel warning > "$RUN/redis.log" 2>&1 &
echo $! > "$RUN/redis.pid"
# The broker keeps everything in memory. If it dies it is started again on
# the same port, so the services find it again by themselves; what it held
# (events not yet consumed, consumer groups' offsets) is gone with it, while
# each service's outbox in Redis still holds what it had yet to publish.
BROKER_PORT="${ROOTED_BROKER_PORT:-19092}"
rm -f "$RUN/bootstrap"
: > "$RUN/broker.log"
(
  # $! rather than a copy of it: a TERM between starting a broker and noting
  # its pid still stops the one just started.
  set +u
  trap 'kill -TERM $! 2>/dev/null; wait; exit 0' TERM
  starts=0
  while :; do
    build/tools/rooted-broker --port="$BROKER_PORT" --bootstrap-file="$RUN/bootstrap" &
    echo $! > "$RUN/broker.pid"
    wait $! && exit 0  # stopped on purpose (stop-local.sh)
    starts=$((starts + 1))
    # A broker that cannot start (its port taken) or keeps dying is not
    # retried for ever.
    if [ "$starts" -ge 5 ]; then
      echo "run-local: rooted-broker failed $starts times; giving up (see above)"
      exit 1
    fi
    echo "run-local: rooted-broker ended; starting it again on port $BROKER_PORT (its events are lost)"
    sleep "$starts"
  done
) </dev/null >>"$RUN/broker.log" 2>&1 &
echo $! > "$RUN/broker-supervisor.pid"
for _ in $(seq 1 100); do [ -s "$RUN/bootstrap" ] && break; sleep 0.1; done
[ -s "$RUN/bootstrap" ] || { echo "rooted-broker did not start; see $RUN/broker.log"; tools/scripts/stop-local.sh >/dev/null; exit 1; }
BOOTSTRAP=$(cat "$RUN/bootstrap")

# start_service NAME GRPC_PORT METRICS_PORT REDIS_DB [FLAGS...]: starts one
# service with the shared local flags and waits until it reports ready.
start_service() {
  local name=$1 grpc=$2 metrics=$3 db=$4
  shift 4
  "build/services/$name/$name" \
    --grpc-address=127.0.0.1:"$grpc" --metrics-address=127.0.0.1:"$metrics" \
    --redis-port="$REDIS_PORT" --redis-db="$db" --kafka-bootstrap="$BOOTSTRAP" \
    --token-secret-file="$RUN/token-secret" --simulated-clock-file="$CLOCK" "$@" \
    > "$RUN/$name.log" 2>&1 &
  echo $! > "$RUN/$name.pid"
  for _ in $(seq 1 100); do grep -q '"msg":"ready"' "$RUN/$name.log" && return 0; sleep 0.1; done
  echo "$name did not become ready; see $RUN/$name.log"
  tools/scripts/stop-local.sh >/dev/null
  exit 1
}

head -c 8 /dev/zero > "$CLOCK"  # offset zero: real time until the term starts
# Which council each school is in. A council gives its GIAS extract; the
# demo's schools (URNs 100001 up) are all council 801's.
{ echo "URN,LA (code)"; seq 100001 100999 | sed 's/$/,801/'; } > "$RUN/schools.csv"
# Each service has a Redis of its own; locally, a database number each.
start_service referral-intake 50051 9464 1 --pupil-ref-secret-file="$RUN/pupil-ref-secret" \
  --schools-file="$RUN/schools.csv"
start_service risk-scoring 50052 9465 2 --pupil-ref-secret-file="$RUN/pupil-ref-secret" \
  --schools-file="$RUN/schools.csv" --la-code=801
start_service forum-scheduling 50053 9466 3
start_service directory-triage 50054 9467 4
start_service fund-payments 50055 9468 5

echo "Playing a term through the services (progress below; about two minutes)..."
build/tools/rooted-term --simulated-clock-file="$CLOCK" --token-secret-file="$RUN/token-secret" \
  --council-pupils="${ROOTED_DEMO_PUPILS:-7500}" > "$RUN/term-summary.txt" 2> >(tee "$RUN/term.log" >&2) ||
  { echo "the term did not play through; see $RUN/term.log and the service logs in $RUN/"; exit 1; }
echo
cat "$RUN/term-summary.txt"

cat <<TXT

RootED local stack is running:
  redis-server       127.0.0.1:$REDIS_PORT            log $RUN/redis.log
  rooted-broker      $BOOTSTRAP   log $RUN/broker.log (started again if it dies;
                     what it held is lost)
  referral-intake    gRPC 127.0.0.1:50051, metrics http://127.0.0.1:9464/metrics
                     log $RUN/referral-intake.log
  risk-scoring       gRPC 127.0.0.1:50052, metrics http://127.0.0.1:9465/metrics
                     log $RUN/risk-scoring.log
  forum-scheduling   gRPC 127.0.0.1:50053, metrics http://127.0.0.1:9466/metrics
                     log $RUN/forum-scheduling.log
  directory-triage   gRPC 127.0.0.1:50054, metrics http://127.0.0.1:9467/metrics
                     log $RUN/directory-triage.log
  fund-payments      gRPC 127.0.0.1:50055, metrics http://127.0.0.1:9468/metrics
                     log $RUN/fund-payments.log
The term's summary is in $RUN/term-summary.txt, its progress in $RUN/term.log.

Try rootedctl (tokens from the local key; every command has --help):
  export ROOTED_TOKEN_SECRET_FILE=$RUN/token-secret
  export ROOTED_TOKEN=\$(build/tools/rootedctl token --role=council_officer --org=council:801 --la=801 --subject=officer-1)
  build/tools/rootedctl referral list
  build/tools/rootedctl case timeline --id=$(grep -o 'one case, [^:]*' "$RUN/term-summary.txt" | cut -d' ' -f3)
  build/tools/rootedctl outcomes report
  build/tools/rootedctl directory search --need=attendance-engagement
  ROOTED_TOKEN=\$(build/tools/rootedctl token --role=school_lead --org=school:100005 --la=801 --subject=head-1) \\
    build/tools/rootedctl risk list --school=100005 --band=high
Dead letters (events a consumer could not apply; see README, "Dead letters"):
  export ROOTED_KAFKA_BOOTSTRAP=\$(cat $RUN/bootstrap)
  build/tools/rootedctl dlq list
Stop everything with: tools/scripts/stop-local.sh
TXT
