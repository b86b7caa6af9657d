#!/usr/bin/env python3
"""The deploy test catches what matters: each change below, made to a copy
of the repository, must make tests/deploy/check_deploy.py fail with a
message naming the problem, and the unchanged copy must pass.

  mutation_test.py [--source=REPO] [--crds=DIR] [--jobs=N]

Exit 0 when every mutation is caught, 1 otherwise, 77 (skipped) when
kubectl or promtool is missing (check_deploy.py needs them).
"""

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# (name, file, old text, new text, what check_deploy.py must say). The old
# text must be in the file: a mutation that no longer applies fails too, so
# the list keeps up with the manifests.
MUTATIONS = [
    ("compiler in the runtime image", "docker/Dockerfile",
     "| xargs apt-get install -y -qq --no-install-recommends \\",
     "| xargs apt-get install -y -qq --no-install-recommends g++ \\",
     r"the runtime image installs a compiler \(g\+\+\)"),
    ("a topic on one broker", "deploy/k8s/kafka/topics.yaml",
     "  replicas: 3\n", "  replicas: 1\n",
     r"prod: KafkaTopic rooted\.referral\.events\.v1 has replicas 1, below 3"),
    ("a topic acknowledging one copy", "deploy/k8s/kafka/topics.yaml",
     "    min.insync.replicas: 2\n", "    min.insync.replicas: 1\n",
     r"prod: KafkaTopic rooted\.referral\.events\.v1 has min\.insync\.replicas 1, below 2"),
    ("the brokers' default replication 1", "deploy/k8s/kafka/kafka.yaml",
     "default.replication.factor: 3", "default.replication.factor: 1",
     r"prod: Kafka default\.replication\.factor is 1, below 3"),
    ("the brokers' min.insync.replicas 1", "deploy/k8s/kafka/kafka.yaml",
     "      min.insync.replicas: 2", "      min.insync.replicas: 1",
     r"prod: Kafka min\.insync\.replicas is 1, below 2"),
    ("a grace period shorter than the drain", "deploy/k8s/base/service/deployment.yaml",
     "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds: 20",
     r"terminationGracePeriodSeconds 20 is shorter than the whole drain 27s"),
    ("a drain longer than the grace period", "deploy/k8s/base/components/settings/kustomization.yaml",
     "ROOTED_OUTBOX_DRAIN=5s", "ROOTED_OUTBOX_DRAIN=15s",
     r"terminationGracePeriodSeconds 30 is shorter than the whole drain 37s .*ROOTED_OUTBOX_DRAIN 15s"),
    ("the Kafka NetworkPolicy port changed", "deploy/k8s/base/networkpolicies.yaml",
     "        - port: 9092\n", "        - port: 9093\n",
     r"NetworkPolicy/kafka-clients lets the services reach Kafka on ports \[9093\], but the brokers listen on \[9092\]"),
    ("the monitoring namespace renamed", "deploy/k8s/monitoring/kustomization.yaml",
     "namespace: monitoring\n", "namespace: prometheus\n",
     r"admits scrapes of \S+ from namespace 'monitoring', but Prometheus's monitors are in 'prometheus'"),
    ("the NetworkPolicies' Prometheus namespace renamed", "deploy/k8s/base/networkpolicies.yaml",
     "kubernetes.io/metadata.name: monitoring", "kubernetes.io/metadata.name: prometheus",
     r"NetworkPolicy/prometheus-scrape admits scrapes of \S+ from namespace 'prometheus', but Prometheus's "
     r"monitors are in 'monitoring'"),
    ("a dashboard's service label changed", "deploy/k8s/monitoring/dashboards/referral-intake.json",
     'rooted_service=\\"referral-intake\\"', 'rooted_service=\\"referral\\"',
     r"referral-intake\.json: panel '[^']+' selects rooted_service=\"referral\", which nothing exports"),
    ("a dashboard's job label changed", "deploy/k8s/monitoring/dashboards/kafka-redis.json",
     'job=\\"rooted-kafka-exporter\\"', 'job=\\"kafka-exporter\\"',
     r"kafka-redis\.json: panel '[^']+' selects job=\"kafka-exporter\", which nothing exports"),
    ("hostNetwork", "deploy/k8s/base/service/deployment.yaml",
     "      automountServiceAccountToken: false\n",
     "      automountServiceAccountToken: false\n      hostNetwork: true\n",
     r"Deployment/referral-intake-api: hostNetwork: true"),
    ("the error-rate threshold above 5%", "deploy/k8s/monitoring/prometheusrule.yaml",
     "(rooted:rpc_requests:rate5m) > 0.02", "(rooted:rpc_requests:rate5m) > 0.1",
     r"RootedHighErrorRate fires above 10% of calls failing: it must fire by 5%"),
    ("a PodDisruptionBudget at minAvailable 100%", "deploy/k8s/base/service/autoscaling.yaml",
     "  minAvailable: 1\n", "  minAvailable: 100%\n",
     r"PodDisruptionBudget/referral-intake-api: minAvailable 100%: no pod may ever be evicted"),
    ("a PodDisruptionBudget at maxUnavailable 0", "deploy/k8s/base/service/autoscaling.yaml",
     "  minAvailable: 1\n", "  maxUnavailable: 0\n",
     r"PodDisruptionBudget/referral-intake-api: maxUnavailable 0: no pod may ever be evicted"),
    ("a Redis open to every namespace", "deploy/k8s/base/service/networkpolicy.yaml",
     "    - from:\n        - podSelector:\n            matchLabels:\n              app.kubernetes.io/component: api\n",
     "    - from:\n        - namespaceSelector: {}\n",
     r"NetworkPolicy/referral-intake-redis: ingress from an empty namespaceSelector \(every namespace\)"),
    ("a Redis open to every source", "deploy/k8s/base/service/networkpolicy.yaml",
     "    - from:\n        - podSelector:\n            matchLabels:\n              app.kubernetes.io/component: api\n"
     "      ports:\n",
     "    - ports:\n",
     r"NetworkPolicy/referral-intake-redis: an ingress rule with no 'from' admits every source"),
    ("readiness pointed at the liveness service", "deploy/k8s/base/service/deployment.yaml",
     "          readinessProbe:\n            grpc:\n              port: 50051\n",
     "          readinessProbe:\n            grpc:\n              port: 50051\n              service: liveness\n",
     r"container service: readiness asks the health service 'liveness', the liveness one"),
]

# What check_deploy.py reads besides deploy/ and docker/: the code's topics,
# metric and service names, gRPC services, CMake targets, the Tiltfile.
def IGNORE(directory, names):
    return [n for n in names if (n in (".git", "node_modules", ".run", "__pycache__") or re.fullmatch(r"build(-.*)?", n))
            and os.path.isdir(os.path.join(directory, n))]


def run_check(tree, crds):
    start = time.monotonic()
    out = subprocess.run([sys.executable, os.path.join(tree, "tests/deploy/check_deploy.py"),
                          f"--source={tree}", f"--crds={crds}"], capture_output=True, text=True)
    return out.returncode, out.stdout + out.stderr, time.monotonic() - start


def mutate(base, scratch, mutation):
    name, path, old, new, _ = mutation
    tree = os.path.join(scratch, re.sub(r"\W+", "-", name).strip("-"))
    shutil.copytree(base, tree, symlinks=True)
    target = os.path.join(tree, path)
    text = open(target).read()
    if old not in text:
        return None
    with open(target, "w") as f:
        f.write(text.replace(old, new))
    return tree


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default=os.path.dirname(os.path.dirname(HERE)))
    parser.add_argument("--crds", default="")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    for tool in ("kubectl", "promtool", "yamllint"):
        if not shutil.which(tool):
            print(f"{tool} not found: skipping the deploy mutations")
            return 77
    source = os.path.abspath(args.source)
    crds = os.path.abspath(args.crds or os.environ.get("ROOTED_CRDS_DIR") or os.path.join(source, "..", "shared", "crds"))
    failures = []
    with tempfile.TemporaryDirectory(prefix="rooted-mutations-") as scratch:
        base = os.path.join(scratch, "base")
        shutil.copytree(source, base, ignore=IGNORE, symlinks=True)

        def one(mutation):
            if mutation is None:
                return None, run_check(base, crds)
            tree = mutate(base, scratch, mutation)
            if tree is None:
                return mutation, (None, f"the text to change is no longer in {mutation[1]}", 0.0)
            result = run_check(tree, crds)
            shutil.rmtree(tree, ignore_errors=True)
            return mutation, result

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(one, [None] + MUTATIONS))
    for mutation, (code, output, seconds) in results:
        if mutation is None:
            ok = code == 0
            print(f"{'ok  ' if ok else 'FAIL'} unchanged tree passes ({seconds:.1f}s)")
            if not ok:
                failures.append(("unchanged tree", output))
            continue
        name, path, _, _, expected = mutation
        caught = code == 1 and re.search(expected, output)
        print(f"{'ok  ' if caught else 'FAIL'} {name} ({path}) is caught ({seconds:.1f}s)")
        if not caught:
            failures.append((name, f"expected exit 1 and /{expected}/, got exit {code}:\n{output}"))
    for name, output in failures:
        print(f"\n--- {name}:\n{output}")
    print(f"\n{len(results) - 1 - sum(1 for n, _ in failures if n != 'unchanged tree')} of {len(MUTATIONS)} "
          f"mutations caught" + ("" if not failures else f"; {len(failures)} failures"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
