#!/usr/bin/env python3
"""What can be proved here about the images and the Kubernetes manifests,
with no Docker engine and no cluster:

  - both overlays render with kubectl kustomize;
  - every workload has probes (gRPC health for the services), requests and
    limits, and the restricted security context; every service Deployment a
    Service for gRPC and metrics, a ServiceMonitor that scrapes it, and in
    prod an autoscaler and a disruption budget;
  - no Secret is in the manifests and no secret value in a ConfigMap;
  - the namespace denies all traffic but what policies allow;
  - every topic in common/kafka/topics.h, and its dead-letter topic, has a
    KafkaTopic;
  - every metric a dashboard or an alert uses is one the code exports, and
    promtool accepts the rules; yamllint accepts the YAML;
  - every image's entrypoint is a binary CMake builds, the runtime image
    installs every library those binaries load, and the Tiltfile builds
    every image.

Exit 0 when all hold, 1 with the list of what does not, 77 (skipped) when
kubectl is missing.

  check_deploy.py --source=REPO [--build=BUILD_DIR]
"""

import argparse
import ast
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

problems = []


def check(condition, message):
    if not condition:
        problems.append(message)
    return condition


def render(source, overlay):
    out = subprocess.run(["kubectl", "kustomize", os.path.join(source, "deploy/k8s/overlays", overlay)],
                         capture_output=True, text=True)
    if not check(out.returncode == 0, f"{overlay}: kubectl kustomize failed: {out.stderr.strip()}"):
        return []
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def name_of(obj):
    return f"{obj['kind']}/{obj['metadata']['name']}"


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_workload(overlay, obj):
    where = f"{overlay}: {name_of(obj)}"
    pod = obj["spec"]["template"]["spec"]
    check(pod.get("automountServiceAccountToken") is False, f"{where}: mounts a service account token")
    psc = pod.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True, f"{where}: pod may run as root")
    check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: no RuntimeDefault seccomp")
    for c in pod["containers"]:
        cw = f"{where} container {c['name']}"
        for probe in ("livenessProbe", "readinessProbe"):
            check(probe in c, f"{cw}: no {probe}")
        resources = c.get("resources", {})
        for kind in ("requests", "limits"):
            for what in ("cpu", "memory"):
                check(what in resources.get(kind, {}), f"{cw}: no {what} {kind}")
        sc = c.get("securityContext", {})
        check(sc.get("allowPrivilegeEscalation") is False, f"{cw}: privilege escalation allowed")
        check(sc.get("readOnlyRootFilesystem") is True, f"{cw}: root filesystem writable")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{cw}: capabilities not all dropped")
        check(not sc.get("privileged", False), f"{cw}: privileged")
        if obj["kind"] == "Deployment":
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                check("grpc" in c.get(probe, {}), f"{cw}: {probe} is not a gRPC health check")
            check(c.get("livenessProbe", {}).get("grpc", {}).get("service") == "liveness",
                  f"{cw}: liveness must ask the 'liveness' health service (not readiness)")


def check_overlay(source, overlay, topics):
    objects = render(source, overlay)
    if not objects:
        return
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    check("Secret" not in by_kind, f"{overlay}: Secrets in the manifests (they come from the secret store)")
    for cm in by_kind.get("ConfigMap", []):
        for key, value in (cm.get("data") or {}).items():
            secretish = re.search(r"(SECRET|PASSWORD|KEY)$", key)
            check(not secretish, f"{overlay}: {name_of(cm)} holds {key}: secrets only as mounted files (*_FILE)")
            check("BEGIN" not in str(value) or key.endswith(".json"), f"{overlay}: {name_of(cm)} {key} holds key material")

    deployments = by_kind.get("Deployment", [])
    check(len(deployments) == 5, f"{overlay}: {len(deployments)} Deployments, expected the five services")
    for obj in deployments + by_kind.get("StatefulSet", []):
        check_workload(overlay, obj)
    services = by_kind.get("Service", [])
    monitors = by_kind.get("ServiceMonitor", [])
    for d in deployments:
        pod_labels = d["spec"]["template"]["metadata"]["labels"]
        matching = [s for s in services if selects(s["spec"].get("selector"), pod_labels)
                    and s["metadata"].get("namespace") == d["metadata"].get("namespace")]
        if not check(len(matching) == 1, f"{overlay}: {name_of(d)} has {len(matching)} Services, expected 1"):
            continue
        svc = matching[0]
        ports = {p["name"] for p in svc["spec"]["ports"]}
        check({"grpc", "metrics"} <= ports, f"{overlay}: {name_of(svc)} lacks grpc or metrics port")
        scraped = [m for m in monitors if selects(m["spec"]["selector"].get("matchLabels"), svc["metadata"]["labels"])
                   and any(e.get("port") == "metrics" for e in m["spec"]["endpoints"])]
        check(scraped, f"{overlay}: no ServiceMonitor scrapes {name_of(svc)}")
        target = d["metadata"]["name"]
        hpas = [h for h in by_kind.get("HorizontalPodAutoscaler", []) if h["spec"]["scaleTargetRef"]["name"] == target]
        pdbs = [p for p in by_kind.get("PodDisruptionBudget", [])
                if selects(p["spec"]["selector"].get("matchLabels"), pod_labels)]
        if overlay == "prod":
            check(len(hpas) == 1 and len(pdbs) == 1, f"prod: {name_of(d)} needs one HPA and one PDB")
            check(d["spec"].get("replicas", 1) >= 2, f"prod: {name_of(d)} has fewer than 2 replicas")
        else:
            check(d["spec"].get("replicas") == 1 and not hpas, f"dev: {name_of(d)} should be a single replica")
        # Council officers act for a school only as the register of schools says.
        app = pod_labels.get("app.kubernetes.io/name")
        if app in ("referral-intake", "risk-scoring"):
            pod = d["spec"]["template"]["spec"]
            mounted = {v["configMap"]["name"] for v in pod.get("volumes", []) if "configMap" in v}
            registers = [cm for cm in by_kind.get("ConfigMap", []) if cm["metadata"]["name"] in mounted
                         and "schools.csv" in (cm.get("data") or {})]
            check(registers and registers[0]["data"]["schools.csv"].startswith("URN,LA (code)"),
                  f"{overlay}: {app} mounts no register of schools (schools.csv)")
    for sts in by_kind.get("StatefulSet", []):
        if overlay == "prod":
            args = sts["spec"]["template"]["spec"]["containers"][0].get("args", [])
            check("--appendonly" in args and args[args.index("--appendonly") + 1] == "yes",
                  f"prod: {name_of(sts)} without the append-only file")
            check(sts["spec"].get("volumeClaimTemplates"), f"prod: {name_of(sts)} has no persistent volume")

    policies = by_kind.get("NetworkPolicy", [])
    check(any(p["spec"].get("podSelector") == {} and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
              and not p["spec"].get("ingress") and not p["spec"].get("egress") for p in policies),
          f"{overlay}: no default-deny NetworkPolicy")
    namespaces = {n["metadata"]["name"]: n for n in by_kind.get("Namespace", [])}
    check(namespaces.get("rooted", {}).get("metadata", {}).get("labels", {}).get(
        "pod-security.kubernetes.io/enforce") == "restricted", f"{overlay}: namespace rooted not PodSecurity restricted")

    check(len(by_kind.get("Kafka", [])) == 1, f"{overlay}: expected one Kafka")
    kafka = by_kind.get("Kafka", [{}])[0]
    check(kafka.get("metadata", {}).get("annotations", {}).get("strimzi.io/kraft") == "enabled",
          f"{overlay}: Kafka is not in KRaft mode")
    declared = {t["spec"].get("topicName", t["metadata"]["name"]): t for t in by_kind.get("KafkaTopic", [])}
    for topic in topics:
        for name in (topic, topic + ".dlq"):
            t = declared.get(name)
            if check(t is not None, f"{overlay}: no KafkaTopic for {name}"):
                check(t["spec"].get("partitions", 0) >= 1 and "retention.ms" in t["spec"].get("config", {}),
                      f"{overlay}: KafkaTopic {name} without partitions or retention")
    return objects


def exported_metrics(source):
    names = set()
    for path in glob.glob(os.path.join(source, "common/**/*.cc"), recursive=True) + \
            glob.glob(os.path.join(source, "services/**/*.cc"), recursive=True):
        names.update(re.findall(r'\.Name\("(rooted_[a-z0-9_]+)"\)', open(path).read()))
    return names


def used_metrics(expr):
    # Label names (in matchers and grouping clauses) are not metrics.
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    used = set()
    for name in re.findall(r"\brooted_[a-z0-9_]+", expr):
        used.add(re.sub(r"_(bucket|sum|count)$", "", name))
    return used


def check_monitoring(source, objects):
    exported = exported_metrics(source)
    check(exported, "found no metrics in the code")
    rules = [o for o in objects if o["kind"] == "PrometheusRule"]
    check(rules, "no PrometheusRule")
    alerts = set()
    for rule in rules:
        for group in rule["spec"]["groups"]:
            for r in group["rules"]:
                alerts.add(r.get("alert", ""))
                for metric in used_metrics(r["expr"]):
                    check(metric in exported, f"{name_of(rule)}: {r.get('alert') or r.get('record')} uses "
                                              f"{metric}, which the code does not export")
        promtool = shutil.which("promtool")
        if check(promtool, "promtool missing (Debian package prometheus)"):
            with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
                yaml.safe_dump(rule["spec"], f)
            out = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
            os.unlink(f.name)
            check(out.returncode == 0, f"promtool check rules {name_of(rule)}: {out.stdout}{out.stderr}")
    for wanted in ("RootedHighErrorRate", "RootedSlowCalls", "RootedConsumerLag", "RootedDeadLetters",
                   "RootedOutboxBacklog", "RootedFundOverspendAttempts", "RootedRedisPipelineFailures"):
        check(wanted in alerts, f"no {wanted} alert")

    dashboards = [o for o in objects if o["kind"] == "ConfigMap" and
                  o["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    check(len(dashboards) == 6, f"{len(dashboards)} Grafana dashboards, expected an overview and one per service")
    for cm in dashboards:
        for file, text in cm["data"].items():
            board = json.loads(text)
            check(board.get("panels"), f"{name_of(cm)}: dashboard {file} has no panels")
            for panel in board.get("panels", []):
                for target in panel.get("targets", []):
                    for metric in used_metrics(target.get("expr", "")):
                        check(metric in exported, f"{file}: panel '{panel['title']}' uses {metric}, "
                                                  f"which the code does not export")


def check_topics(source):
    text = open(os.path.join(source, "common/kafka/topics.h")).read()
    topics = re.findall(r'constexpr absl::string_view k\w+ = "(rooted\.[a-z0-9.]+)"', text)
    check(len(topics) >= 6, f"read only {len(topics)} topics from common/kafka/topics.h")
    return topics


def check_images(source, build):
    dockerfile = open(os.path.join(source, "docker/Dockerfile")).read()
    stages = re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, re.M)
    images = [s for s in stages if s not in ("build", "runtime")]
    targets = set()
    for cmake in glob.glob(os.path.join(source, "**/CMakeLists.txt"), recursive=True):
        targets.update(re.findall(r"rooted_executable\(([\w-]+)", open(cmake).read()))
    binaries = []
    for image in images:
        block = dockerfile.split(f" AS {image}\n", 1)[1].split("\nFROM ", 1)[0]
        copy = re.search(r"COPY --from=build /build/(\S+) ", block)
        entry = re.search(r'ENTRYPOINT \["([^"]+)"', block)
        check(entry, f"image {image}: no ENTRYPOINT")
        if image == "redis":
            continue
        if not check(copy, f"image {image}: copies no binary from the build stage"):
            continue
        binary = copy.group(1)
        check(os.path.basename(binary) in targets, f"image {image}: {binary} is not a CMake executable target")
        check(entry and os.path.basename(entry.group(1)) == os.path.basename(binary),
              f"image {image}: entrypoint is not the binary it copies")
        check(re.search(rf"\b{os.path.basename(binary)}\b", dockerfile.split("ROOTED_BUILD_TARGETS=", 1)[1]
                        .split("\n", 1)[0]), f"image {image}: the build stage does not build {binary}")
        binaries.append(binary)
    check(not re.search(r"^FROM .*runtime[\s\S]*?(build-essential|g\+\+|cmake)", dockerfile.split(" AS runtime", 1)[1]
                        .split("\nFROM ", 1)[0], re.M), "the runtime image installs a compiler")
    check(re.search(r"^USER 10001", dockerfile, re.M), "images do not run as a non-root user")
    # docker/build-images.sh builds what docker/image-targets.sh lists: every image.
    listed = subprocess.run([os.path.join(source, "docker/image-targets.sh")], capture_output=True, text=True)
    check(listed.returncode == 0 and listed.stdout.split() == images,
          f"docker/image-targets.sh lists {listed.stdout.split()}, the Dockerfile has {images}")
    for script in ("docker/build-images.sh", "docker/image-targets.sh"):
        syntax = subprocess.run(["bash", "-n", os.path.join(source, script)], capture_output=True, text=True)
        check(syntax.returncode == 0, f"{script}: {syntax.stderr}")
    ignore = open(os.path.join(source, ".dockerignore")).read().split()
    for must in (".git", "build", ".run", "node_modules"):
        check(must in ignore, f".dockerignore lets {must} into the build context")

    # The runtime packages cover what the binaries load (when they are built here).
    wanted = {l.strip() for l in open(os.path.join(source, "docker/runtime-packages.txt"))
              if l.strip() and not l.startswith("#")}
    if build and shutil.which("ldd") and shutil.which("dpkg"):
        owners = {}  # library path -> package; the binaries share most of them
        for binary in binaries:
            path = os.path.join(build, binary)
            if not os.path.exists(path):
                continue
            libs = re.findall(r"=> (/\S+)", subprocess.run(["ldd", path], capture_output=True, text=True).stdout)
            for lib in libs:
                if lib in owners:
                    continue
                # dpkg knows a file by the path its package ships (/lib or /usr/lib, before usr-merge).
                real = os.path.realpath(lib)
                package = ""
                for candidate in (lib, real, "/usr" + lib, real.replace("/usr/", "/", 1)):
                    owner = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
                    if owner.returncode == 0:
                        package = owner.stdout.split(":")[0]
                        break
                owners[lib] = package
                essential = package in ("libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libzstd1", "liblz4-1",
                                        "libsasl2-2", "libcrypt1")
                check(package and (package in wanted or essential),
                      f"{binary} loads {lib} ({package or 'no package'}), not in docker/runtime-packages.txt")

    tiltfile = open(os.path.join(source, "Tiltfile")).read()
    # Starlark is Python's syntax: a parse catches a broken Tiltfile here, without Tilt.
    try:
        ast.parse(tiltfile)
    except SyntaxError as e:
        check(False, f"Tiltfile: {e}")
    check("kustomize('deploy/k8s/overlays/dev')" in tiltfile, "the Tiltfile does not apply the dev overlay")
    for image in images:
        if image == "rootedctl":
            continue
        check(f"'{image}'" in tiltfile, f"the Tiltfile does not build or group {image}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--build", default="")
    args = parser.parse_args()
    if not shutil.which("kubectl"):
        print("kubectl not found: skipping the manifest checks")
        return 77
    topics = check_topics(args.source)
    check_overlay(args.source, "dev", topics)
    prod = check_overlay(args.source, "prod", topics) or []
    check_monitoring(args.source, prod)
    check_images(args.source, args.build)
    lint = subprocess.run(["yamllint", "-c", os.path.join(args.source, ".yamllint"),
                           os.path.join(args.source, "deploy")], capture_output=True, text=True)
    check(lint.returncode == 0, f"yamllint: {lint.stdout}{lint.stderr}")
    if problems:
        print(f"{len(problems)} problems:")
        for p in problems:
            print("  - " + p)
        return 1
    print("deploy checks passed: both overlays, images, topics, metrics, rules, lint")
    return 0


if __name__ == "__main__":
    sys.exit(main())
