#!/usr/bin/env python3
"""What can be proved here about the images and the Kubernetes manifests,
with no Docker engine and no cluster:

  - both overlays render with kubectl kustomize;
  - every custom resource (Strimzi, Prometheus Operator) is valid against
    its operator's published schema (../shared/crds, no unknown fields);
  - every workload has probes (gRPC health for the services, readiness on a
    service the server registers, never "liveness"), requests and limits,
    the restricted security context and no host namespaces; every service
    Deployment a Service for gRPC and metrics, a ServiceMonitor that scrapes
    it, a grace period that holds its whole shutdown (preStop + the
    settings' drains), and in prod an autoscaler and a disruption budget
    that lets a pod go;
  - no Secret is in the manifests and no secret value in a ConfigMap;
  - the namespace denies all traffic but what policies allow: no ingress
    from every namespace or source, Redis from its service alone, the Kafka
    port the brokers listen on, metrics from the namespace the monitors are
    in (Prometheus's);
  - Kafka keeps every topic on three brokers with two in sync in prod, and
    every topic in common/kafka/topics.h, and its dead-letter topic, has a
    KafkaTopic;
  - every metric a dashboard or an alert uses is one the code or an
    exporter exports, every label value it selects (rooted_service, job,
    service, topic) one that exists, every service, Redis and the Kafka
    Exporter has an absent() alert, the error-rate alert fires by 5%;
    promtool accepts the rules and passes their unit tests
    (deploy/k8s/monitoring/tests), which make every alert fire and keep it
    quiet; yamllint accepts the YAML;
  - every image's entrypoint is a binary CMake builds, no image but the
    build stage installs a compiler, the runtime image installs every
    library those binaries load, and the Tiltfile builds every image.

Exit 0 when all hold, 1 with the list of what does not, 77 (skipped) when
kubectl is missing. tests/deploy/mutation_test.py breaks a copy of the tree
in each of these ways and expects this to fail.

  check_deploy.py --source=REPO [--build=BUILD_DIR] [--crds=DIR]
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

# libyaml's parser when there (Debian's python3-yaml has it): the CRDs and
# the rendered overlays are a few MB of YAML.
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

problems = []

# Compilers and their drivers: only the build stage may have them.
COMPILERS = re.compile(r"(?<![\w.+-])(build-essential|g\+\+(-\d+)?|gcc(-\d+)?|clang(-\d+)?|cmake|cpp(-\d+)?|"
                       r"c\+\+|llvm(-\d+)?|gfortran)(?![\w.+-])")


def check(condition, message):
    if not condition:
        problems.append(message)
    return condition


def render(source, path):
    out = subprocess.run(["kubectl", "kustomize", os.path.join(source, path)], capture_output=True, text=True)
    if not check(out.returncode == 0, f"{path}: kubectl kustomize failed: {out.stderr.strip()}"):
        return []
    return [d for d in yaml.load_all(out.stdout, Loader=Loader) if d]


def name_of(obj):
    return f"{obj['kind']}/{obj['metadata']['name']}"


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def duration_seconds(text):
    """absl::ParseDuration's common spellings: 500ms, 5s, 1m30s, 1h."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6, "ns": 1e-9}
    parts = re.findall(r"([0-9.]+)(ms|us|ns|h|m|s)", text or "")
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * units[u] for n, u in parts)


# ---- custom resources against their operators' schemas -----------------------

def closed(schema):
    """The API server prunes (and kubectl --validate=strict refuses) fields a
    structural schema does not name: make jsonschema refuse them too."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("properties", "patternProperties"):
                for sub in value.values():
                    closed(sub)
            elif key in ("items", "additionalProperties", "not"):
                closed(value)
            elif key in ("anyOf", "oneOf", "allOf"):
                for sub in value:
                    closed(sub)
        if "properties" in schema and "additionalProperties" not in schema and \
                not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
    return schema


def load_crds(crds):
    schemas = {}
    for path in glob.glob(os.path.join(crds, "**/*.yaml"), recursive=True):
        for doc in yaml.load_all(open(path), Loader=Loader):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            for version in doc["spec"]["versions"]:
                if version.get("served"):
                    key = (f"{doc['spec']['group']}/{version['name']}", doc["spec"]["names"]["kind"])
                    schemas[key] = closed(version["schema"]["openAPIV3Schema"])
    return schemas


def check_schemas(overlay, objects, schemas):
    if not schemas:
        return
    try:
        import jsonschema
    except ImportError:
        # Not yet in tools/scripts/setup.sh's test packages: say so, loudly.
        if overlay == "dev":
            print("NOTE: python3-jsonschema missing: the custom resources are NOT checked against their schemas")
        return
    groups = {api.split("/")[0] for api, _ in schemas}
    for obj in objects:
        key = (obj["apiVersion"], obj["kind"])
        group = obj["apiVersion"].split("/")[0]
        if key not in schemas:
            check(group not in groups, f"{overlay}: {name_of(obj)} is {obj['apiVersion']}, which the installed "
                                       f"operator does not serve (it serves {sorted(a for a, k in schemas if k == obj['kind'])})")
            continue
        for error in jsonschema.Draft7Validator(schemas[key]).iter_errors(obj):
            where = "/".join(str(p) for p in error.absolute_path)
            check(False, f"{overlay}: {name_of(obj)} does not match the {key[0]} schema at {where}: {error.message[:200]}")


# ---- workloads -----------------------------------------------------------------

def grpc_services(source):
    names = set()
    for path in glob.glob(os.path.join(source, "proto/**/*.proto"), recursive=True):
        text = open(path).read()
        package = re.search(r"^package\s+([\w.]+);", text, re.M)
        for service in re.findall(r"^service\s+(\w+)", text, re.M):
            names.add(f"{package.group(1)}.{service}" if package else service)
    return names


def pod_specs(objects):
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
            yield obj, obj["spec"]["template"]["spec"]
        elif obj["kind"] == "CronJob":
            yield obj, obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif obj["kind"] == "Pod":
            yield obj, obj["spec"]


def check_workload(overlay, obj, health_services):
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
            # The server reports "liveness" SERVING whatever Redis and Kafka do;
            # readiness is "" and each gRPC service it registers
            # (common/server/service_runtime.cc), which follow them.
            ready = c.get("readinessProbe", {}).get("grpc", {}).get("service", "")
            check(ready == "" or ready in health_services,
                  f"{cw}: readiness asks the health service '{ready}'" +
                  (", the liveness one, which stays SERVING with Redis or Kafka gone: readiness must be '' "
                   "or a gRPC service the server registers" if ready == "liveness" else
                   ", which the server does not register ('' or one of its gRPC services)"))


def check_host_access(overlay, objects):
    for obj, pod in pod_specs(objects):
        where = f"{overlay}: {name_of(obj)}"
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            check(not pod.get(field), f"{where}: {field}: true (the pod shares the node's namespace)")
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            for port in c.get("ports", []):
                check("hostPort" not in port, f"{where} container {c['name']}: hostPort {port.get('hostPort')}")
        for volume in pod.get("volumes", []):
            check("hostPath" not in volume, f"{where}: hostPath volume {volume['name']}")


def container_env(container, configmaps):
    """The environment a container gets from its ConfigMaps and literals."""
    env = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef", {}).get("name")
        if ref is not None:
            env.update({k: str(v) for k, v in (configmaps.get(ref, {}).get("data") or {}).items()})
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = str(var["value"])
        elif "configMapKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["configMapKeyRef"]
            value = (configmaps.get(ref["name"], {}).get("data") or {}).get(ref["key"])
            if value is not None:
                env[var["name"]] = str(value)
    return env


# The stages of a service's shutdown, in order (common/server/service_core.cc,
# ServiceCore::Serve): the in-flight calls get their drain plus a second.
SHUTDOWN_STAGES = (("ROOTED_SHUTDOWN_DRAIN", 1.0), ("ROOTED_CONSUMER_STOP", 0.0),
                   ("ROOTED_OUTBOX_DRAIN", 0.0), ("ROOTED_KAFKA_FLUSH", 0.0))


def check_grace_period(overlay, deployment, configmaps):
    where = f"{overlay}: {name_of(deployment)}"
    pod = deployment["spec"]["template"]["spec"]
    grace = pod.get("terminationGracePeriodSeconds", 30)
    c = pod["containers"][0]
    env = container_env(c, configmaps)
    pre_stop = 0.0
    command = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    if command:
        pause = re.fullmatch(r"(?:/bin/)?sleep (\d+(?:\.\d+)?)s?", " ".join(command))
        if check(pause, f"{where}: preStop {command} is not a plain sleep: cannot bound it"):
            pre_stop = float(pause.group(1))
    total = pre_stop
    parts = [f"preStop {pre_stop:g}s"]
    for name, extra in SHUTDOWN_STAGES:
        seconds = duration_seconds(env.get(name))
        if not check(seconds is not None, f"{where}: {name} is not set as a duration in its settings ConfigMap "
                                          f"(got {env.get(name)!r}): the grace period cannot be checked against it"):
            continue
        total += seconds + extra
        parts.append(f"{name} {env[name]}" + (f" + {extra:g}s" if extra else ""))
    check(grace >= total, f"{where}: terminationGracePeriodSeconds {grace} is shorter than the whole drain "
                          f"{total:g}s ({' + '.join(parts)}): Kubernetes kills it mid-shutdown")


def check_disruption_budget(overlay, pdb, minimum):
    where = f"{overlay}: {name_of(pdb)}"
    spec = pdb["spec"]
    if "minAvailable" in spec:
        value = spec["minAvailable"]
        if isinstance(value, str) and value.endswith("%"):
            check(int(value[:-1]) < 100, f"{where}: minAvailable {value}: no pod may ever be evicted "
                                         f"(node drains and upgrades block)")
        else:
            check(int(value) < minimum, f"{where}: minAvailable {value} with {minimum} replicas: no pod may "
                                        f"ever be evicted (node drains and upgrades block)")
    if "maxUnavailable" in spec:
        value = str(spec["maxUnavailable"])
        check(value not in ("0", "0%"), f"{where}: maxUnavailable {value}: no pod may ever be evicted "
                                        f"(node drains and upgrades block)")


# ---- network -------------------------------------------------------------------

def peer_is_open(peer):
    """Why a NetworkPolicy peer admits far more than it should, or None."""
    if "namespaceSelector" in peer:
        selector = peer["namespaceSelector"] or {}
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            return "an empty namespaceSelector (every namespace)"
    cidr = peer.get("ipBlock", {}).get("cidr", "")
    if cidr in ("0.0.0.0/0", "::/0"):
        return f"ipBlock {cidr} (everywhere)"
    return None


def policy_selects(policy, obj):
    if policy["metadata"].get("namespace") != obj["metadata"].get("namespace"):
        return False
    selector = policy["spec"].get("podSelector") or {}
    labels = obj["spec"]["template"]["metadata"].get("labels", {})
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def check_network(overlay, by_kind, monitoring_namespace):
    policies = by_kind.get("NetworkPolicy", [])
    for p in policies:
        where = f"{overlay}: {name_of(p)}"
        for rule in p["spec"].get("ingress") or []:
            if not check(rule.get("from"), f"{where}: an ingress rule with no 'from' admits every source in "
                                           f"every namespace"):
                continue
            for peer in rule["from"]:
                why = peer_is_open(peer)
                check(not why, f"{where}: ingress from {why}")

    # Each Redis: its own service's pods alone, in its namespace; its
    # exporter: the monitoring namespace alone.
    for sts in by_kind.get("StatefulSet", []):
        if sts["spec"]["template"]["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "redis":
            continue
        app = sts["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/name")
        admitting = [p for p in policies if policy_selects(p, sts) and "Ingress" in p["spec"].get("policyTypes", [])]
        for p in admitting:
            for rule in p["spec"].get("ingress") or []:
                ports = {port.get("port") for port in rule.get("ports") or []}
                for peer in rule.get("from") or []:
                    if 6379 in ports or not ports:
                        check("namespaceSelector" not in peer and "ipBlock" not in peer and
                              (peer.get("podSelector") or {}).get("matchLabels", {}).get("app.kubernetes.io/name") == app,
                              f"{overlay}: {name_of(p)} opens {name_of(sts)}'s Redis port beyond {app}'s own pods: {peer}")

    # Metrics ports from Prometheus's namespace, the one the monitors are in.
    metrics_ports = {}
    for obj, pod in pod_specs(by_kind.get("Deployment", []) + by_kind.get("StatefulSet", [])):
        for c in pod["containers"]:
            for port in c.get("ports", []):
                if port.get("name") == "metrics":
                    metrics_ports.setdefault(obj["metadata"]["name"], (obj, port["containerPort"]))
    for name, (obj, port) in metrics_ports.items():
        admitted = set()
        for p in policies:
            if not policy_selects(p, obj):
                continue
            for rule in p["spec"].get("ingress") or []:
                if port not in {q.get("port") for q in rule.get("ports") or []}:
                    continue
                for peer in rule.get("from") or []:
                    ns = (peer.get("namespaceSelector") or {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                    if ns:
                        admitted.add(ns)
                        check(ns == monitoring_namespace,
                              f"{overlay}: {name_of(p)} admits scrapes of {name}:{port} from namespace '{ns}', "
                              f"but Prometheus's monitors are in '{monitoring_namespace}'")
        check(monitoring_namespace in admitted,
              f"{overlay}: no NetworkPolicy admits Prometheus (namespace '{monitoring_namespace}') to "
              f"{name}'s metrics port {port}")


def check_kafka(overlay, by_kind, settings_env):
    kafkas = by_kind.get("Kafka", [])
    if not check(len(kafkas) == 1, f"{overlay}: expected one Kafka"):
        return None
    kafka = kafkas[0]
    kafka_ns = kafka["metadata"].get("namespace")
    check(kafka["apiVersion"] == "kafka.strimzi.io/v1", f"{overlay}: Kafka is {kafka['apiVersion']}; Strimzi 1.x "
                                                        f"serves kafka.strimzi.io/v1 only")
    pools = [p for p in by_kind.get("KafkaNodePool", [])
             if p["metadata"].get("labels", {}).get("strimzi.io/cluster") == kafka["metadata"]["name"]]
    brokers = sum(p["spec"].get("replicas", 0) for p in pools if "broker" in p["spec"].get("roles", []))
    controllers = sum(p["spec"].get("replicas", 0) for p in pools if "controller" in p["spec"].get("roles", []))
    check(brokers >= 1 and controllers >= 1, f"{overlay}: Kafka has {brokers} brokers and {controllers} "
                                             f"controllers in its node pools (KRaft needs both)")
    config = kafka["spec"]["kafka"].get("config", {})
    prod = overlay == "prod"
    if prod:
        check(brokers >= 3 and controllers >= 3, f"prod: Kafka needs three brokers and three controllers "
                                                 f"(has {brokers} and {controllers})")
    for key, floor in (("default.replication.factor", 3), ("offsets.topic.replication.factor", 3),
                       ("transaction.state.log.replication.factor", 3), ("min.insync.replicas", 2),
                       ("transaction.state.log.min.isr", 2)):
        value = int(config.get(key, 1))
        if prod:
            check(value >= floor, f"prod: Kafka {key} is {value}, below {floor}: a single broker's loss "
                                  f"{'loses data' if 'replication' in key else 'acknowledges writes held once'}")
        check(value <= max(brokers, 1), f"{overlay}: Kafka {key} {value} exceeds its {brokers} brokers")
    for t in by_kind.get("KafkaTopic", []):
        name = t["spec"].get("topicName", t["metadata"]["name"])
        replicas = t["spec"].get("replicas", int(config.get("default.replication.factor", 1)))
        isr = int(t["spec"].get("config", {}).get("min.insync.replicas", config.get("min.insync.replicas", 1)))
        if prod:
            check(replicas >= 3, f"prod: KafkaTopic {name} has replicas {replicas}, below 3")
            check(isr >= 2, f"prod: KafkaTopic {name} has min.insync.replicas {isr}, below 2: an acknowledged "
                            f"write may live on one broker")
            check(isr < replicas, f"prod: KafkaTopic {name} min.insync.replicas {isr} leaves no broker to lose "
                                  f"({replicas} replicas)")
        check(replicas <= max(brokers, 1), f"{overlay}: KafkaTopic {name} has {replicas} replicas, more than "
                                           f"its {brokers} brokers")

    # The services reach the brokers on the port the brokers listen on, and
    # the bootstrap address names it.
    listeners = {l["port"] for l in kafka["spec"]["kafka"].get("listeners", []) if not l.get("tls")}
    bootstrap = settings_env.get("ROOTED_KAFKA_BOOTSTRAP", "")
    port = re.search(r":(\d+)$", bootstrap)
    check(port and int(port.group(1)) in listeners,
          f"{overlay}: ROOTED_KAFKA_BOOTSTRAP {bootstrap!r} is not on a plain listener of the Kafka ({sorted(listeners)})")
    egress = []
    for p in by_kind.get("NetworkPolicy", []):
        for rule in p["spec"].get("egress") or []:
            for peer in rule.get("to") or []:
                if (peer.get("namespaceSelector") or {}).get("matchLabels", {}).get(
                        "kubernetes.io/metadata.name") == kafka_ns:
                    egress.append((p, {q.get("port") for q in rule.get("ports") or []}))
    if check(egress, f"{overlay}: no NetworkPolicy lets the services reach Kafka in {kafka_ns}"):
        for p, ports in egress:
            check(port and int(port.group(1)) in ports and ports <= listeners,
                  f"{overlay}: {name_of(p)} lets the services reach Kafka on ports {sorted(ports)}, but the brokers "
                  f"listen on {sorted(listeners)} (bootstrap {bootstrap!r})")
    return {"kafka": kafka, "brokers": brokers}


def check_overlay(source, overlay, topics, health_services):
    objects = render(source, f"deploy/k8s/overlays/{overlay}")
    if not objects:
        return None
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    check("Secret" not in by_kind, f"{overlay}: Secrets in the manifests (they come from the secret store)")
    configmaps = {cm["metadata"]["name"]: cm for cm in by_kind.get("ConfigMap", [])}
    for cm in by_kind.get("ConfigMap", []):
        for key, value in (cm.get("data") or {}).items():
            secretish = re.search(r"(SECRET|PASSWORD|KEY)$", key)
            check(not secretish, f"{overlay}: {name_of(cm)} holds {key}: secrets only as mounted files (*_FILE)")
            check("BEGIN" not in str(value) or key.endswith(".json"), f"{overlay}: {name_of(cm)} {key} holds key material")

    deployments = by_kind.get("Deployment", [])
    check(len(deployments) == 5, f"{overlay}: {len(deployments)} Deployments, expected the five services")
    for obj in deployments + by_kind.get("StatefulSet", []):
        check_workload(overlay, obj, health_services)
    check_host_access(overlay, objects)
    services = by_kind.get("Service", [])
    monitors = by_kind.get("ServiceMonitor", [])

    def scraped_by(svc):
        ns = svc["metadata"].get("namespace")
        return [m for m in monitors if selects(m["spec"]["selector"].get("matchLabels"), svc["metadata"]["labels"])
                and any(e.get("port") == "metrics" for e in m["spec"]["endpoints"])
                and (m["spec"].get("namespaceSelector", {}).get("any") or
                     ns in m["spec"].get("namespaceSelector", {}).get("matchNames", [m["metadata"].get("namespace")]))]

    settings_env = {}
    for d in deployments:
        pod_labels = d["spec"]["template"]["metadata"]["labels"]
        env = container_env(d["spec"]["template"]["spec"]["containers"][0], configmaps)
        settings_env = settings_env or env
        check_grace_period(overlay, d, configmaps)
        matching = [s for s in services if selects(s["spec"].get("selector"), pod_labels)
                    and s["metadata"].get("namespace") == d["metadata"].get("namespace")]
        if not check(len(matching) == 1, f"{overlay}: {name_of(d)} has {len(matching)} Services, expected 1"):
            continue
        svc = matching[0]
        ports = {p["name"] for p in svc["spec"]["ports"]}
        check({"grpc", "metrics"} <= ports, f"{overlay}: {name_of(svc)} lacks grpc or metrics port")
        check(scraped_by(svc), f"{overlay}: no ServiceMonitor scrapes {name_of(svc)}")
        target = d["metadata"]["name"]
        hpas = [h for h in by_kind.get("HorizontalPodAutoscaler", []) if h["spec"]["scaleTargetRef"]["name"] == target]
        pdbs = [p for p in by_kind.get("PodDisruptionBudget", [])
                if selects(p["spec"]["selector"].get("matchLabels"), pod_labels)]
        if overlay == "prod":
            check(len(hpas) == 1 and len(pdbs) == 1, f"prod: {name_of(d)} needs one HPA and one PDB")
            check(d["spec"].get("replicas", 1) >= 2, f"prod: {name_of(d)} has fewer than 2 replicas")
        else:
            check(d["spec"].get("replicas") == 1 and not hpas, f"dev: {name_of(d)} should be a single replica")
        minimum = min([d["spec"].get("replicas", 1)] + [h["spec"].get("minReplicas", 1) for h in hpas])
        for pdb in pdbs:
            check_disruption_budget(overlay, pdb, minimum)
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
        # Each Redis's exporter, scraped.
        pod_labels = sts["spec"]["template"]["metadata"]["labels"]
        if pod_labels.get("app.kubernetes.io/component") == "redis":
            exporters = [c for c in sts["spec"]["template"]["spec"]["containers"]
                         if any(p.get("name") == "metrics" for p in c.get("ports", []))]
            check(exporters, f"{overlay}: {name_of(sts)} has no Redis exporter (a container with a metrics port)")
            svcs = [s for s in services if selects(s["spec"].get("selector"), pod_labels)]
            check(any(scraped_by(s) for s in svcs), f"{overlay}: no ServiceMonitor scrapes {name_of(sts)}'s exporter")

    policies = by_kind.get("NetworkPolicy", [])
    check(any(p["spec"].get("podSelector") == {} and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
              and not p["spec"].get("ingress") and not p["spec"].get("egress") for p in policies),
          f"{overlay}: no default-deny NetworkPolicy")
    namespaces = {n["metadata"]["name"]: n for n in by_kind.get("Namespace", [])}
    check(namespaces.get("rooted", {}).get("metadata", {}).get("labels", {}).get(
        "pod-security.kubernetes.io/enforce") == "restricted", f"{overlay}: namespace rooted not PodSecurity restricted")

    monitoring = {o["metadata"].get("namespace") for o in objects
                  if o["kind"] in ("ServiceMonitor", "PodMonitor", "PrometheusRule")}
    check(len(monitoring) == 1, f"{overlay}: the monitors and rules are in namespaces {sorted(map(str, monitoring))}, "
                                f"expected Prometheus's one")
    monitoring_namespace = sorted(map(str, monitoring))[0] if monitoring else "monitoring"
    check_network(overlay, by_kind, monitoring_namespace)

    kafka = check_kafka(overlay, by_kind, settings_env)
    declared = {t["spec"].get("topicName", t["metadata"]["name"]): t for t in by_kind.get("KafkaTopic", [])}
    for topic in topics:
        for name in (topic, topic + ".dlq"):
            t = declared.get(name)
            if check(t is not None, f"{overlay}: no KafkaTopic for {name}"):
                check(t["spec"].get("partitions", 0) >= 1 and "retention.ms" in t["spec"].get("config", {}),
                      f"{overlay}: KafkaTopic {name} without partitions or retention")
    # The Kafka Exporter, scraped.
    if kafka:
        cluster = kafka["kafka"]["metadata"]["name"]
        check("kafkaExporter" in kafka["kafka"]["spec"], f"{overlay}: the Kafka has no kafkaExporter")
        pods = [m for m in by_kind.get("PodMonitor", [])
                if m["spec"].get("selector", {}).get("matchLabels", {}).get("strimzi.io/name") == f"{cluster}-kafka-exporter"
                and kafka["kafka"]["metadata"].get("namespace") in m["spec"].get("namespaceSelector", {}).get("matchNames", [])]
        check(pods, f"{overlay}: no PodMonitor scrapes the Kafka Exporter ({cluster}-kafka-exporter)")
    return {"objects": objects, "by_kind": by_kind, "kafka": kafka, "topics": set(declared)}


# ---- metrics, alerts, dashboards -------------------------------------------------

def exported_metrics(source):
    names = set()
    for path in glob.glob(os.path.join(source, "common/**/*.cc"), recursive=True) + \
            glob.glob(os.path.join(source, "services/**/*.cc"), recursive=True):
        names.update(re.findall(r'\.Name\("(rooted_[a-z0-9_]+)"\)', open(path).read()))
    return names


def exporter_metrics():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "exporter_metrics.txt")
    return {l.strip() for l in open(path) if l.strip() and not l.startswith("#")}


def service_names(source):
    names = set()
    for path in glob.glob(os.path.join(source, "services/*/main.cc")):
        names.update(re.findall(r'constexpr char kServiceName\[\] = "([a-z-]+)"', open(path).read()))
    return names


def strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def used_metrics(expr):
    # Label names (in matchers and grouping clauses) are not metrics.
    expr = re.sub(r"\{[^}]*\}", "", strip_strings(expr))
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    used = set()
    for name in re.findall(r"(?<![\w:])((?:rooted|kafka|redis)_[a-z0-9_]+|up)\b(?![\s]*\()", expr):
        used.add(re.sub(r"_(bucket|sum|count)$", "", name) if name.startswith("rooted_") else name)
    return used


def label_matchers(expr):
    """(label, op, value) for each matcher in a PromQL expression."""
    found = []
    for block in re.findall(r"\{([^}]*)\}", expr):
        for label, op, value in re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', block):
            found.append((label, op, value))
    return found


def check_label_values(where, expr, known):
    for label, op, value in label_matchers(expr):
        values = known.get(label)
        if values is None or op.startswith("!"):
            continue
        if op == "=":
            check(value in values, f"{where} selects {label}=\"{value}\", which nothing exports "
                                   f"({label} is one of {', '.join(sorted(values))})")
        else:
            pattern = re.compile(value.replace("\\\\", "\\"))
            check(any(pattern.fullmatch(v) for v in values),
                  f"{where} selects {label}=~\"{value}\", which matches nothing exported "
                  f"({label} is one of {', '.join(sorted(values))})")


def alert_threshold(expr):
    found = re.search(r"\)\s*>\s*([0-9.]+)", expr)
    return float(found.group(1)) if found else None


def check_monitoring(source, overlay, rendered, known):
    objects = rendered["objects"]
    exported = exported_metrics(source) | exporter_metrics()
    check(exported, "found no metrics in the code")
    rules = [o for o in objects if o["kind"] == "PrometheusRule"]
    check(rules, "no PrometheusRule")
    recorded = set()
    alerts = {}
    for rule in rules:
        for group in rule["spec"]["groups"]:
            for r in group["rules"]:
                if "record" in r:
                    recorded.add(r["record"])
                else:
                    alerts.setdefault(r["alert"], []).append(r)
    for rule in rules:
        for group in rule["spec"]["groups"]:
            for r in group["rules"]:
                what = r.get("alert") or r.get("record")
                for metric in used_metrics(r["expr"]):
                    check(metric in exported, f"{name_of(rule)}: {what} uses {metric}, which neither the code "
                                              f"nor an exporter exports")
                check_label_values(f"{name_of(rule)}: {what}", r["expr"], known)
    for wanted in ("RootedHighErrorRate", "RootedSlowCalls", "RootedConsumerLag", "RootedDeadLetters",
                   "RootedOutboxBacklog", "RootedFundOverspendAttempts", "RootedRedisPipelineFailures",
                   "RootedServiceAbsent", "RootedKafkaExporterDown", "RootedKafkaExporterAbsent",
                   "RootedKafkaBrokersMissing", "RootedKafkaUnderReplicatedPartitions",
                   "RootedKafkaConsumerGroupLag", "RootedRedisDown", "RootedRedisExporterAbsent",
                   "RootedRedisMemoryNearLimit", "RootedRedisRejectedConnections", "RootedRedisAofWriteFailed",
                   "RootedRedisRdbSaveFailed"):
        check(wanted in alerts, f"{overlay}: no {wanted} alert")
    # A target that disappears has no up series: absent() for every job.
    exprs = " ".join(r["expr"] for rs in alerts.values() for r in rs)
    for job in sorted(known["job"]):
        check(re.search(r'absent\(\s*up\{job="%s"\}\s*\)' % re.escape(job), exprs),
              f"{overlay}: no absent(up{{job=\"{job}\"}}) alert: if {job} disappears entirely nothing alerts")
    # Server errors page by 5% of calls.
    for r in alerts.get("RootedHighErrorRate", []):
        threshold = alert_threshold(r["expr"])
        check(threshold is not None and threshold <= 0.05,
              f"{overlay}: RootedHighErrorRate fires above {threshold if threshold is None else f'{threshold:.0%}'} "
              f"of calls failing: it must fire by 5%")
    # As many brokers as the pool has.
    brokers = (rendered.get("kafka") or {}).get("brokers")
    for r in alerts.get("RootedKafkaBrokersMissing", []):
        threshold = re.search(r"<\s*([0-9]+)", r["expr"])
        check(threshold and int(threshold.group(1)) == brokers,
              f"{overlay}: RootedKafkaBrokersMissing fires below {threshold and threshold.group(1)} brokers, "
              f"but the node pools have {brokers}")

    dashboards = [o for o in objects if o["kind"] == "ConfigMap" and
                  o["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    check(len(dashboards) == 7, f"{overlay}: {len(dashboards)} Grafana dashboards, expected an overview, one per "
                                f"service and Kafka and Redis")
    for cm in dashboards:
        for file, text in cm["data"].items():
            board = json.loads(text)
            check(board.get("panels"), f"{name_of(cm)}: dashboard {file} has no panels")
            for panel in board.get("panels", []):
                for target in panel.get("targets", []):
                    expr = target.get("expr", "")
                    for metric in used_metrics(expr):
                        check(metric in exported or metric in recorded,
                              f"{file}: panel '{panel['title']}' uses {metric}, which neither the code nor an "
                              f"exporter exports")
                    check_label_values(f"{file}: panel '{panel['title']}'", expr, known)
    return rules, alerts


def check_rule_tests(source, rules, alerts):
    """promtool test rules on the PrometheusRules' groups, with the tests in
    deploy/k8s/monitoring/tests; every alert needs a case that makes it fire
    and one that keeps it quiet."""
    tests_dir = os.path.join(source, "deploy/k8s/monitoring/tests")
    files = sorted(glob.glob(os.path.join(tests_dir, "*.yaml")))
    if not check(files, "no promtool rule tests in deploy/k8s/monitoring/tests"):
        return
    firing, quiet = set(), set()
    for path in files:
        doc = yaml.load(open(path), Loader=Loader) or {}
        for case in doc.get("tests", []):
            for t in case.get("alert_rule_test", []):
                (firing if t.get("exp_alerts") else quiet).add(t.get("alertname"))
    for name in sorted(alerts):
        check(name in firing, f"alert {name} has no promtool test case that makes it fire "
                              f"(deploy/k8s/monitoring/tests, exp_alerts)")
        check(name in quiet, f"alert {name} has no promtool test case that keeps it quiet "
                             f"(deploy/k8s/monitoring/tests, exp_alerts: [])")
    for name in sorted((firing | quiet) - set(alerts)):
        check(False, f"deploy/k8s/monitoring/tests test alert {name}, which no rule defines")
    promtool = shutil.which("promtool")
    if not check(promtool, "promtool missing (Debian package prometheus)"):
        return
    with tempfile.TemporaryDirectory() as tmp:
        for rule in rules:
            path = os.path.join(tmp, f"{rule['metadata']['name']}.yaml")
            with open(path, "w") as f:
                yaml.safe_dump(rule["spec"], f)
            out = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
            check(out.returncode == 0, f"promtool check rules {name_of(rule)}: {out.stdout}{out.stderr}")
        copies = []
        for path in files:
            copies.append(shutil.copy(path, tmp))
        out = subprocess.run([promtool, "test", "rules"] + copies, capture_output=True, text=True, cwd=tmp)
        check(out.returncode == 0, f"promtool test rules (deploy/k8s/monitoring/tests) failed:\n"
                                   f"{out.stdout.strip()}\n{out.stderr.strip()}")


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
    # No compiler but in the build stage: not in the runtime base (its RUN
    # lines or the package list it installs), nor in any image.
    for stage in stages:
        if stage == "build":
            continue
        block = dockerfile.split(f" AS {stage}\n", 1)[1].split("\nFROM ", 1)[0]
        code = "\n".join(l for l in block.splitlines() if not l.lstrip().startswith("#"))
        found = COMPILERS.search(code)
        check(not found, f"the {stage} image installs a compiler ({found and found.group(0)}): "
                         f"only the build stage may")
    for line in open(os.path.join(source, "docker/runtime-packages.txt")):
        found = None if line.startswith("#") else COMPILERS.search(line)
        check(not found, f"docker/runtime-packages.txt puts a compiler ({found and found.group(0)}) in the "
                         f"runtime image")
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
    parser.add_argument("--crds", default="", help="the operators' CRDs (default: SOURCE/../shared/crds)")
    args = parser.parse_args()
    if not shutil.which("kubectl"):
        print("kubectl not found: skipping the manifest checks")
        return 77
    source = os.path.abspath(args.source)
    # The operators' CRDs are theirs, not ours: kept beside the checkout
    # (../shared/crds), or wherever ROOTED_CRDS_DIR says. A clone elsewhere
    # still runs every other check, and says what it skipped.
    crds = args.crds or os.environ.get("ROOTED_CRDS_DIR") or os.path.join(source, "..", "shared", "crds")
    schemas = load_crds(crds) if os.path.isdir(crds) else {}
    if os.path.isdir(crds):
        check(schemas, f"no CustomResourceDefinitions in {crds}: cannot check the custom resources")
    else:
        print(f"NOTE: no {crds} (set ROOTED_CRDS_DIR): the custom resources are NOT checked against their schemas")
    topics = check_topics(source)
    health = grpc_services(source)
    check(health, "read no gRPC services from proto/")
    services = service_names(source)
    check(len(services) == 5, f"read {sorted(services)} from services/*/main.cc (kServiceName), expected five")
    rendered = {}
    for overlay in ("dev", "prod"):
        rendered[overlay] = check_overlay(source, overlay, topics, health)
        if rendered[overlay]:
            check_schemas(overlay, rendered[overlay]["objects"], schemas)
    # The monitoring kustomization renders alone, as Prometheus's namespace applies it.
    render(source, "deploy/k8s/monitoring")
    for overlay in ("dev", "prod"):
        r = rendered[overlay]
        if not r:
            continue
        by_kind = r["by_kind"]
        # What a dashboard or an alert may select: the services' own label, the
        # jobs the monitors make (a ServiceMonitor's are its Services' names, the
        # Kafka Exporter's PodMonitor its pods' strimzi.io/name), the Services,
        # the topics.
        scraped = [s["metadata"]["name"] for s in by_kind.get("Service", [])
                   if any(p["name"] == "metrics" for p in s["spec"]["ports"])]
        jobs = set(scraped)
        for m in by_kind.get("PodMonitor", []):
            job = m["spec"].get("selector", {}).get("matchLabels", {}).get(m["spec"].get("jobLabel", ""))
            jobs.add(job or f"{m['metadata'].get('namespace')}/{m['metadata']['name']}")
        known = {"rooted_service": services, "job": jobs, "service": set(scraped),
                 "topic": r["topics"], "consumergroup": None}
        known = {k: v for k, v in known.items() if v is not None}
        rules, alerts = check_monitoring(source, overlay, r, known)
        if overlay == "prod":
            check_rule_tests(source, rules, alerts)
    check_images(source, args.build)
    lint = subprocess.run(["yamllint", "-c", os.path.join(source, ".yamllint"),
                           os.path.join(source, "deploy")], capture_output=True, text=True)
    check(lint.returncode == 0, f"yamllint: {lint.stdout}{lint.stderr}")
    if problems:
        print(f"{len(problems)} problems:")
        for p in problems:
            print("  - " + p)
        return 1
    print("deploy checks passed: both overlays, schemas, network, Kafka, images, topics, metrics, "
          "label values, rules and their tests, lint")
    return 0


if __name__ == "__main__":
    sys.exit(main())
