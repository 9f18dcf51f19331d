"""Checks one overlay's built manifests for what schemas cannot see, and sorts them by validator.

Writes into OUTPUT_DIR ``builtin.yaml`` (kubernetes-validate), ``crds.yaml`` (kubeconform with
schemas from the operators' CRDs) and ``strimzi.json`` (deploy/validate/strimzi). Then checks:
every container is bounded and unprivileged; the services probe their real health routes on
their real ports; their environment loads with the services' own settings classes; the
gateway's grace period covers its drain; the gateway and the auth service agree on the
token issuer and the allowed origins, which include the Ingress's site; every Deployment has a
Service, a PDB and an HPA, and none that an HPA scales sets ``replicas``;
every pod of the system is under the default-deny NetworkPolicy; the Ingresses route like the
local balancer with WebSocket timeouts above the ping interval, and no route reaches a service's
metrics or probes; Kafka topics are replicated; the migration Job is ordered for Argo CD and
cleaned up; in prod, every monitor and rule carries the label Prometheus selects by, and the
services reach Postgres through a PgBouncer Pooler sized for their pools at the HPAs' maxima.
Redis: only the gateways and the auth service reach the Redis and Sentinel ports, the Redis nodes
and Sentinels reach each other, Prometheus the exporters (the NetworkPolicies evaluated for each
flow); in prod every StatefulSet keeps its data on volumes of its own, under a PDB, spread over
nodes and zones, and the Redis URL that docs/operations.md has the operator put in the Secret
chat-redis is a ``redis+sentinel://`` URL naming every Sentinel the manifests run, the primary
they watch, and a number of replicas to wait for that still leaves one replica to lose.
Attachments: the gateways and the media worker get every setting of the object store, its key
pair and the internal token from Secrets, the same for both; every Secret key a pod reads is one
its Secret has; no Ingress route reaches the gateways' /internal/ routes; where browsers reach
the store at the site, the Ingress sends the public endpoint's path to it unchanged with the
balancer's sandbox headers and upload limit, and elsewhere the web app's policy names its origin.

Usage: manifests.py OVERLAY BUILT_YAML OUTPUT_DIR
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import msgspec
import yaml  # type: ignore[import-untyped]

import chat_gateway
from chat_auth.settings import PREFIX as AUTH_PREFIX
from chat_auth.settings import AuthSettings
from chat_common.object_store import SETTINGS_PREFIX as OBJECT_STORE_PREFIX
from chat_common.object_store import ObjectStoreSettings
from chat_common.redis_client import SENTINEL_SCHEME, SentinelGroup
from chat_common.settings import ServiceSettings, SettingsError, load_settings
from chat_gateway.settings import PREFIX as GATEWAY_PREFIX
from chat_gateway.settings import GatewaySettings
from chat_worker.settings import PREFIX as WORKER_PREFIX
from chat_worker.settings import WorkerSettings

Resource = dict[str, Any]

# Custom resources and what validates them.
KUBECONFORM_GROUPS = {"postgresql.cnpg.io", "monitoring.coreos.com"}
STRIMZI_GROUPS = {"kafka.strimzi.io", "core.strimzi.io"}
WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}


class Service(NamedTuple):
    settings: type[msgspec.Struct] | None
    prefix: str
    port: int
    ready: str
    live: str
    # Why the settings class could not be loaded; None when it was, or the service has none.
    missing: str | None = None


def _loaded_service(module_name: str, port: int) -> Service:
    """A service whose settings class is the one ServiceSettings subclass its settings module
    defines, beside the module's PREFIX (the convention of every service's settings.py)."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return Service(None, "", port, "/readyz", "/healthz", f"{module_name}: {exc}")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value.__module__ == module_name
    ]
    if len(classes) != 1 or not isinstance(getattr(module, "PREFIX", None), str):
        found = sorted(c.__name__ for c in classes)
        return Service(
            None, "", port, "/readyz", "/healthz", f"{module_name}: settings classes {found}"
        )
    return Service(classes[0], module.PREFIX, port, "/readyz", "/healthz")


# The Deployments of the system by name: settings, prefix, port, readiness and liveness paths.
SERVICES: dict[str, Service] = {
    "gateway": Service(GatewaySettings, GATEWAY_PREFIX, 8101, "/readyz", "/healthz"),
    "auth-service": Service(AuthSettings, AUTH_PREFIX, 8200, "/readyz", "/healthz"),
    "persistence-worker": Service(WorkerSettings, WORKER_PREFIX, 8300, "/readyz", "/healthz"),
    "media-worker": _loaded_service("chat_media.settings", 8400),
    "web": Service(None, "", 8080, "/nginx-health", "/nginx-health"),
}
# The object store's clients: both sign or use its URLs, so both get its every setting.
OBJECT_STORE_CLIENTS = ("gateway", "media-worker")
# Settings every client of the store is given explicitly: where the store is, where browsers
# reach it, which bucket, the region signed into requests, the addressing style, the key pair.
OBJECT_STORE_REQUIRED = (
    "ENDPOINT_URL",
    "PUBLIC_ENDPOINT_URL",
    "BUCKET",
    "REGION",
    "PATH_STYLE",
    "ACCESS_KEY_ID",
    "SECRET_ACCESS_KEY",
)
OBJECT_STORE_SECRET_SETTINGS = ("ACCESS_KEY_ID", "SECRET_ACCESS_KEY")
# The token of the gateways' /internal/ routes, by service: both must read the same Secret key.
INTERNAL_TOKENS = {
    "gateway": "CHAT_GATEWAY_INTERNAL_TOKEN",
    "media-worker": "CHAT_MEDIA_INTERNAL_TOKEN",
}
# The media worker's address of the gateways' HTTP routes.
MEDIA_GATEWAY_URL = "CHAT_MEDIA_GATEWAY_URL"
# Every Python service serves these at its root for Prometheus and the kubelet, which reach the
# pods directly; no Ingress route may lead to one.
INTERNAL_PATHS = ("/metrics", "/readyz", "/healthz")
# Routes between services (the media worker's on the gateways); none is ever published.
INTERNAL_PREFIX = "/internal/"
INTERNAL_ROUTE = "/internal/v1/rooms/general/messages/0/attachments"
_REGEX_SYNTAX = re.compile(r"[\\^$.|?*+()\[\]{}]")
# Containers allowed a writable root filesystem, with the reason.
WRITABLE_ROOT = {
    ("dev", "StatefulSet/kafka"): "the Apache Kafka image writes its configuration at start",
}
# uvicorn's timeout_graceful_shutdown in chat_gateway.server, plus room for the Kafka flush.
GATEWAY_SHUTDOWN_S = 5 + 5
# Values for variables that come from Secrets, shaped as the settings expect.
SECRET_PLACEHOLDERS = {
    "uri": "postgresql://chat:secret@postgres:5432/chat",
    "url": "redis://:secret@redis:6379/0",
    "username": "chat",
    # `openssl rand -hex 32`, as docs/operations.md makes it; the gateway refuses a short one.
    "token": "0123456789abcdef" * 4,
}
# The kubelet's $(NAME) references to variables defined before; $$ is a literal $.
_ENV_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
# The gateway's asyncpg pool is sized in its code, not a setting (chat_gateway/app.py).
_GATEWAY_POOL = re.compile(r"create_pool\(\s*settings\.database_url,[^)]*max_size=(\d+)")
# Connections Postgres keeps beside the poolers': the migration Job, the operator's instance
# manager and metrics exporter, superuser_reserved_connections (3), a person with psql.
POSTGRES_DIRECT_CONNECTIONS = 50
# The prod Secret chat-redis is made by hand with the command in this page (Deploy).
OPERATIONS_DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
_REDIS_SECRET_URL = re.compile(
    r"kubectl -n chat create secret generic chat-redis\b.*?--from-literal=url=\"([^\"]+)\"",
    re.DOTALL,
)
# Every Secret CloudNativePG makes for a Cluster's application user, `<cluster>-app`, and its
# keys (pkg/specs/secrets.go of CloudNativePG 1.28).
CNPG_APP_SECRET_KEYS = frozenset(
    {
        "username",
        "user",
        "password",
        "dbname",
        "host",
        "port",
        "pgpass",
        "uri",
        "jdbc-uri",
        "fqdn-uri",
        "fqdn-jdbc-uri",
    }
)
# `kubectl -n NAMESPACE create secret generic|tls NAME …` in docs/operations.md, one logical line.
_CREATE_SECRET = re.compile(r"kubectl -n (\S+) create secret (generic|tls) (\S+)(.*)")
_FROM_LITERAL = re.compile(r"--from-literal=([^=\s]+)=")
_FROM_FILE = re.compile(r"--from-file=(\S+)")
# The balancer's configuration: the Ingress of an in-cluster store sends what it sends.
NGINX_DIR = Path(__file__).resolve().parents[2] / "deploy" / "nginx"
ATTACHMENT_HEADERS = NGINX_DIR / "attachment-headers.conf"
CHAT_LOCATIONS = NGINX_DIR / "chat-locations.conf"
_ADD_HEADER = re.compile(r'^add_header\s+(\S+)\s+"([^"]*)"\s+always;', re.MULTILINE)
_ATTACHMENT_LOCATION = re.compile(r"^location \^~ /chat-attachments/ \{(.*?)^\}", re.M | re.S)
_BODY_LIMIT = re.compile(r"^\s*client_max_body_size\s+(\S+);", re.MULTILINE)
CUSTOM_HEADERS = "nginx.ingress.kubernetes.io/custom-headers"
# Where the web image's nginx reads the origin of an object store that is not the site
# (deploy/nginx/http-common.conf: attachment-origin*.conf beside /etc/nginx/nginx.conf).
ATTACHMENT_ORIGIN_MOUNT = re.compile(r"^/etc/nginx/attachment-origin[^/]*\.conf$")
_ATTACHMENT_ORIGIN = re.compile(r'^""\s+"([^"]+)";\s*$')
# A key as the gateway names an original (docs/protocol.md, Attachments).
SAMPLE_KEY = "originals/00000000-0000-4000-8000-000000000000"
# An address of the public internet, where a cloud provider's S3 endpoint is (TEST-NET-3).
PUBLIC_ADDRESS = "203.0.113.10"
# Pods of the system that must never reach Redis or its Sentinels: they have no business there.
NOT_REDIS_CLIENTS = ("persistence-worker", "media-worker", "web", "migrations")
# The label kube-prometheus-stack's Prometheus selects monitors and rules by.
PROMETHEUS_SELECTOR_LABEL = "release"
ARGO_WAVE = "argocd.argoproj.io/sync-wave"


class Report:
    def __init__(self, overlay: str) -> None:
        self.overlay = overlay
        self.errors: list[str] = []

    def check(self, condition: bool, where: str, message: str) -> None:
        if not condition:
            self.errors.append(f"{self.overlay}: {where}: {message}")


def name_of(resource: Resource) -> str:
    return f"{resource['kind']}/{resource['metadata']['name']}"


def group_of(resource: Resource) -> str:
    api_version: str = resource["apiVersion"]
    return api_version.split("/")[0] if "/" in api_version else ""


def is_custom(resource: Resource) -> bool:
    group = group_of(resource)
    return "." in group and not group.endswith(".k8s.io")


def pod_spec(resource: Resource) -> Resource:
    spec: Resource = resource["spec"]["template"]["spec"]
    return spec


def containers(resource: Resource) -> Iterator[Resource]:
    spec = pod_spec(resource)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def selects(selector: Resource, labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        present = expression["key"] in labels
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def check_container_bounds(report: Report, resource: Resource) -> None:
    spec = pod_spec(resource)
    pod_security = spec.get("securityContext", {})
    where = name_of(resource)
    report.check(
        spec.get("automountServiceAccountToken") is False, where, "mounts a service account token"
    )
    for container in containers(resource):
        at = f"{where} container {container['name']}"
        image: str = container["image"]
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        report.check(
            "@sha256:" in image or (tag != "" and tag != "latest"), at, f"image {image} not pinned"
        )
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            for quantity in ("cpu", "memory"):
                report.check(
                    quantity in resources.get(kind, {}), at, f"no {quantity} in resources.{kind}"
                )
        security = container.get("securityContext", {})
        report.check(
            security.get("allowPrivilegeEscalation") is False, at, "privilege escalation allowed"
        )
        report.check(
            "ALL" in security.get("capabilities", {}).get("drop", []),
            at,
            "capabilities not dropped",
        )
        report.check(security.get("privileged") is not True, at, "privileged")
        if (report.overlay, where) not in WRITABLE_ROOT:
            report.check(
                security.get("readOnlyRootFilesystem") is True, at, "root filesystem writable"
            )
        non_root = security.get("runAsNonRoot", pod_security.get("runAsNonRoot"))
        report.check(non_root is True, at, "runAsNonRoot is not set")
        user = security.get("runAsUser", pod_security.get("runAsUser"))
        report.check(user is not None and user != 0, at, "no non-root runAsUser")
        seccomp = security.get("seccompProfile", pod_security.get("seccompProfile", {}))
        report.check(seccomp.get("type") == "RuntimeDefault", at, "no RuntimeDefault seccomp")


def expand(value: str, env: dict[str, str]) -> str:
    """``$(NAME)`` replaced by a variable defined before, as the kubelet does; an unknown
    reference stays as written."""

    def replace(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        return env.get(match[1], match[0])

    return _ENV_REFERENCE.sub(replace, value)


def environment(resource: Resource, config_maps: dict[str, Resource]) -> dict[str, str]:
    """The container's environment as the kubelet would build it; Secrets as placeholders."""
    env: dict[str, str] = {}
    container = pod_spec(resource)["containers"][0]
    for source in container.get("envFrom", []):
        data = config_maps[source["configMapRef"]["name"]].get("data", {})
        env.update({key: str(value) for key, value in data.items()})
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = expand(str(variable["value"]), env)
            continue
        origin = variable["valueFrom"]
        if "fieldRef" in origin:
            env[variable["name"]] = "pod-0"
        elif "configMapKeyRef" in origin:
            reference = origin["configMapKeyRef"]
            env[variable["name"]] = str(config_maps[reference["name"]]["data"][reference["key"]])
        elif "secretKeyRef" in origin:
            env[variable["name"]] = SECRET_PLACEHOLDERS.get(origin["secretKeyRef"]["key"], "secret")
    return env


def check_settings(
    report: Report,
    resource: Resource,
    env: dict[str, str],
    settings: type[msgspec.Struct],
    prefix: str,
) -> None:
    where = name_of(resource)
    fields = {f"{prefix}{field.upper()}" for field in settings.__struct_fields__}
    for variable in env:
        if variable.startswith(prefix):
            report.check(variable in fields, where, f"{variable} is no setting of the service")
    try:
        load_settings(settings, prefix, env)
    except SettingsError as exc:
        report.errors.append(f"{report.overlay}: {where}: {exc}")


def http_probe(container: Resource, probe: str) -> tuple[str, int] | None:
    get = container.get(probe, {}).get("httpGet")
    if get is None:
        return None
    port = get["port"]
    if isinstance(port, str):
        named = [p["containerPort"] for p in container["ports"] if p["name"] == port]
        port = named[0] if named else -1
    return str(get["path"]), int(port)


def sleep_seconds(container: Resource) -> float:
    command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    return float(command[1]) if len(command) == 2 and command[0] == "sleep" else 0.0


def check_services(report: Report, by_kind: dict[str, list[Resource]]) -> None:
    config_maps = {r["metadata"]["name"]: r for r in by_kind.get("ConfigMap", [])}
    deployments = {r["metadata"]["name"]: r for r in by_kind.get("Deployment", [])}
    for name, (settings, prefix, port, ready, live, missing) in SERVICES.items():
        where = f"Deployment/{name}"
        deployment = deployments.get(name)
        report.check(deployment is not None, where, "missing")
        if deployment is None:
            continue
        report.check(
            missing is None, where, f"its settings cannot be checked without its package: {missing}"
        )
        container = pod_spec(deployment)["containers"][0]
        report.check(
            http_probe(container, "readinessProbe") == (ready, port),
            where,
            f"readiness probe is not GET {ready} on {port}",
        )
        report.check(
            http_probe(container, "livenessProbe") == (live, port),
            where,
            f"liveness probe is not GET {live} on {port}",
        )
        if settings is None:
            continue
        env = environment(deployment, config_maps)
        check_settings(report, deployment, env, settings, prefix)
        if name == "gateway":
            drain = float(env.get(f"{prefix}DRAIN_GRACE_S", "5"))
            needed = sleep_seconds(container) + drain + GATEWAY_SHUTDOWN_S
            grace = pod_spec(deployment).get("terminationGracePeriodSeconds", 30)
            report.check(
                grace >= needed,
                where,
                f"terminationGracePeriodSeconds {grace} < preStop + drain + shutdown ({needed})",
            )
            report.check(
                env.get(f"{prefix}HOST") == "0.0.0.0", where, "the gateway must listen on 0.0.0.0"
            )
    check_agreement(report, deployments, config_maps, by_kind.get("Ingress", []))
    for job in by_kind.get("Job", []):
        if job["metadata"]["name"] == "chat-migrate":
            env = environment(job, config_maps)
            report.check("CHAT_DATABASE_URL" in env, name_of(job), "no CHAT_DATABASE_URL")


def check_agreement(
    report: Report,
    deployments: dict[str, Resource],
    config_maps: dict[str, Resource],
    ingresses: list[Resource],
) -> None:
    """What the gateway and the auth service must agree on, and with the site's address."""
    if "gateway" not in deployments or "auth-service" not in deployments:
        return
    gateway = environment(deployments["gateway"], config_maps)
    auth = environment(deployments["auth-service"], config_maps)
    where = "Deployment/gateway"
    report.check(
        gateway.get(f"{GATEWAY_PREFIX}TOKEN_ISSUER", "chat-auth")
        == auth.get(f"{AUTH_PREFIX}ISSUER", "chat-auth"),
        where,
        "TOKEN_ISSUER differs from the auth service's ISSUER",
    )
    report.check(
        gateway.get(f"{GATEWAY_PREFIX}ALLOWED_ORIGINS")
        == auth.get(f"{AUTH_PREFIX}ALLOWED_ORIGINS"),
        where,
        "ALLOWED_ORIGINS differs from the auth service's",
    )
    jwks = gateway.get(f"{GATEWAY_PREFIX}JWKS_URL", "")
    report.check(
        jwks.startswith("http://auth-service:8200/"), where, f"JWKS_URL {jwks} is not the Service"
    )
    sites = {
        f"https://{rule['host']}" for ingress in ingresses for rule in ingress["spec"]["rules"]
    }
    origins = set(gateway.get(f"{GATEWAY_PREFIX}ALLOWED_ORIGINS", "").split(","))
    report.check(
        bool(sites) and sites <= origins,
        where,
        f"ALLOWED_ORIGINS {sorted(origins)} does not allow the site {sorted(sites)}",
    )


def check_companions(report: Report, by_kind: dict[str, list[Resource]]) -> None:
    for deployment in by_kind.get("Deployment", []):
        where = name_of(deployment)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        report.check(
            any(
                selects(p["spec"]["selector"], labels)
                for p in by_kind.get("PodDisruptionBudget", [])
            ),
            where,
            "no PodDisruptionBudget",
        )
        report.check(
            any(
                h["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
                for h in by_kind.get("HorizontalPodAutoscaler", [])
            ),
            where,
            "no HorizontalPodAutoscaler",
        )
        report.check(
            any(
                selects({"matchLabels": s["spec"]["selector"]}, labels) for s in by_kind["Service"]
            ),
            where,
            "no Service",
        )
    hpas = {h["metadata"]["name"]: h for h in by_kind.get("HorizontalPodAutoscaler", [])}
    gateway = hpas.get("gateway", {"spec": {"metrics": []}})
    metrics = {
        m.get("resource", {}).get("name") or m.get("pods", {}).get("metric", {}).get("name")
        for m in gateway["spec"]["metrics"]
    }
    report.check("cpu" in metrics, "HorizontalPodAutoscaler/gateway", "does not scale on CPU")
    if report.overlay == "prod":
        report.check(
            "chat_gateway_connections" in metrics,
            "HorizontalPodAutoscaler/gateway",
            "does not scale on chat_gateway_connections",
        )


def check_scaled_replicas(report: Report, by_kind: dict[str, list[Resource]]) -> None:
    """An HPA owns the replica count of what it scales: a ``replicas`` in the Deployment would
    set the count back on every apply, draining most gateways' clients at once."""
    scaled = {
        (h["spec"]["scaleTargetRef"]["kind"], h["spec"]["scaleTargetRef"]["name"])
        for h in by_kind.get("HorizontalPodAutoscaler", [])
    }
    for kind in ("Deployment", "StatefulSet"):
        for workload in by_kind.get(kind, []):
            report.check(
                (kind, workload["metadata"]["name"]) not in scaled
                or "replicas" not in workload["spec"],
                name_of(workload),
                "sets replicas while an HorizontalPodAutoscaler scales it",
            )


def check_monitoring_labels(report: Report, by_kind: dict[str, list[Resource]]) -> None:
    """Every monitor and rule carries the label the Prometheus selects by, the same value."""
    if report.overlay != "prod":
        return
    values: set[str] = set()
    for resources in by_kind.values():
        for resource in resources:
            if group_of(resource) != "monitoring.coreos.com":
                continue
            value = resource["metadata"].get("labels", {}).get(PROMETHEUS_SELECTOR_LABEL)
            report.check(
                value is not None,
                name_of(resource),
                f"no {PROMETHEUS_SELECTOR_LABEL} label: Prometheus would not select it",
            )
            if value is not None:
                values.add(value)
    report.check(
        len(values) <= 1,
        "monitoring.coreos.com",
        f"{PROMETHEUS_SELECTOR_LABEL} labels differ: {sorted(values)}",
    )


def gateway_pool_size() -> int:
    source = Path(chat_gateway.__file__).with_name("app.py").read_text()
    found = _GATEWAY_POOL.search(source)
    if found is None:
        raise SystemExit("chat_gateway/app.py: the Postgres pool's max_size was not found")
    return int(found[1])


def database_pools(report: Report, by_kind: dict[str, list[Resource]]) -> dict[str, int]:
    """Postgres connections each service may open at its HPA maximum: pool size x replicas."""
    config_maps = {r["metadata"]["name"]: r for r in by_kind.get("ConfigMap", [])}
    deployments = {r["metadata"]["name"]: r for r in by_kind.get("Deployment", [])}
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in by_kind["HorizontalPodAutoscaler"]}
    pools: dict[str, int] = {}
    for name, (settings, prefix, *_) in SERVICES.items():
        if settings is None or name not in deployments or name not in hpas:
            continue
        env = environment(deployments[name], config_maps)
        loaded = load_settings(settings, prefix, env)
        if isinstance(loaded, WorkerSettings):
            # One connection per parallel transaction and one for /readyz (chat_worker/service.py).
            size = loaded.write_connections + 1
        elif isinstance(loaded, GatewaySettings):
            size = gateway_pool_size()
        else:
            # The auth service's setting, and any other service's of the same name.
            pool_size = getattr(loaded, "database_pool_size", None)
            if not isinstance(pool_size, int):
                report.errors.append(
                    f"{report.overlay}: Deployment/{name}: no database_pool_size setting tells"
                    " how many Postgres connections it opens"
                )
                continue
            size = pool_size
        pools[name] = size * int(hpas[name]["spec"]["maxReplicas"])
    return pools


def check_database_connections(report: Report, by_kind: dict[str, list[Resource]]) -> None:
    """prod: the services reach Postgres through a PgBouncer Pooler that, and Postgres behind
    it, take every service's pool at its HPA maximum (docs/operations.md)."""
    if report.overlay != "prod":
        return
    poolers = {p["metadata"]["name"]: p for p in by_kind.get("Pooler", [])}
    config_maps = {r["metadata"]["name"]: r for r in by_kind.get("ConfigMap", [])}
    for deployment in by_kind.get("Deployment", []):
        name = deployment["metadata"]["name"]
        settings, prefix, *_ = SERVICES.get(name, (None, ""))
        if settings is None:
            continue
        url = environment(deployment, config_maps).get(f"{prefix}DATABASE_URL", "")
        host = urlsplit(url).hostname or ""
        report.check(
            host in poolers, name_of(deployment), f"reaches Postgres at {host!r}, not a Pooler"
        )
    try:
        pools = database_pools(report, by_kind)
    except SettingsError as exc:
        report.errors.append(f"{report.overlay}: {exc}")
        return
    demand = sum(pools.values())
    clusters = {c["metadata"]["name"]: c for c in by_kind.get("Cluster", [])}
    for pooler in poolers.values():
        where = name_of(pooler)
        spec = pooler["spec"]
        parameters = spec["pgbouncer"].get("parameters", {})
        client = int(parameters.get("max_client_conn", 100))
        server = min(
            int(parameters.get("default_pool_size", 20)),
            int(parameters.get("max_db_connections", 0)) or 1 << 30,
        )
        instances = int(spec.get("instances", 1))
        detail = " + ".join(f"{name} {count}" for name, count in sorted(pools.items()))
        report.check(
            client >= demand,
            where,
            f"max_client_conn {client} < the services' pools at their maxima ({detail})",
        )
        report.check(
            server >= demand,
            where,
            f"one instance opens at most {server} connections < {demand} ({detail})",
        )
        cluster = clusters.get(spec["cluster"]["name"])
        report.check(cluster is not None, where, f"no Cluster {spec['cluster']['name']}")
        if cluster is None:
            continue
        limit = int(
            cluster["spec"].get("postgresql", {}).get("parameters", {}).get("max_connections", 100)
        )
        needed = instances * server + POSTGRES_DIRECT_CONNECTIONS
        report.check(
            limit >= needed,
            name_of(cluster),
            f"max_connections {limit} < {instances} poolers x {server}"
            f" + {POSTGRES_DIRECT_CONNECTIONS} direct ({needed})",
        )


def check_migrations(report: Report, by_kind: dict[str, list[Resource]]) -> None:
    """The migration Job runs before the Deployments under Argo CD and does not linger."""
    jobs = [j for j in by_kind.get("Job", []) if j["metadata"]["name"] == "chat-migrate"]
    report.check(len(jobs) == 1, "Job/chat-migrate", "missing")
    for job in jobs:
        where = name_of(job)
        annotations = job["metadata"].get("annotations", {})
        report.check("ttlSecondsAfterFinished" in job["spec"], where, "no ttlSecondsAfterFinished")
        report.check(
            annotations.get("argocd.argoproj.io/hook") in {"PreSync", "Sync"},
            where,
            "not an Argo CD PreSync or Sync hook",
        )
        report.check(
            "BeforeHookCreation" in annotations.get("argocd.argoproj.io/hook-delete-policy", ""),
            where,
            "an Argo CD hook that is not deleted before the next one is made",
        )
        wave = int(annotations.get(ARGO_WAVE, "0"))
        for deployment in by_kind.get("Deployment", []):
            deployment_wave = int(deployment["metadata"].get("annotations", {}).get(ARGO_WAVE, "0"))
            report.check(
                deployment_wave > wave,
                name_of(deployment),
                f"Argo CD sync-wave {deployment_wave} is not after the migration Job's {wave}",
            )


def check_network_policies(report: Report, by_kind: dict[str, list[Resource]]) -> None:
    policies = by_kind.get("NetworkPolicy", [])
    deny = [
        p
        for p in policies
        if set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    report.check(len(deny) == 1, "NetworkPolicy", "no single default-deny policy")
    for workload in (r for kind in WORKLOADS for r in by_kind.get(kind, [])):
        labels = workload["spec"]["template"]["metadata"].get("labels", {})
        report.check(
            any(selects(p["spec"]["podSelector"], labels) for p in deny),
            name_of(workload),
            "its pods escape the default-deny NetworkPolicy",
        )


@dataclass(frozen=True)
class Pod:
    """A pod as NetworkPolicies see it: its namespace, its labels, its named ports; or, with an
    ``address``, a place outside the cluster, which only ipBlock peers match."""

    name: str
    namespace: str
    labels: tuple[tuple[str, str], ...]
    ports: tuple[tuple[str, int], ...] = ()
    address: str | None = None

    @classmethod
    def of(cls, workload: Resource) -> Pod:
        template = workload["spec"]["template"]
        ports = tuple(
            (port["name"], int(port["containerPort"]))
            for container in template["spec"]["containers"]
            for port in container.get("ports", [])
            if "name" in port
        )
        return cls(
            workload["metadata"]["name"],
            workload["metadata"].get("namespace", "default"),
            tuple(sorted(template["metadata"].get("labels", {}).items())),
            ports,
        )


def _peer_matches(peer: Resource, pod: Pod, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        if pod.address is None:
            return False
        address = ipaddress.ip_address(pod.address)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(excepted) for excepted in block.get("except", [])
        )
    if pod.address is not None:
        return False
    namespaces = peer.get("namespaceSelector")
    if namespaces is None:
        in_namespace = pod.namespace == policy_namespace
    else:
        in_namespace = selects(namespaces, {"kubernetes.io/metadata.name": pod.namespace})
    pods = peer.get("podSelector")
    return in_namespace and (pods is None or selects(pods, dict(pod.labels)))


def _port_matches(ports: list[Resource] | None, port: int, named: dict[str, int]) -> bool:
    if not ports:
        return True
    for entry in ports:
        value = entry.get("port")
        if value is None:
            return True
        number = named.get(value, -1) if isinstance(value, str) else int(value)
        if number <= port <= int(entry.get("endPort", number)):
            return True
    return False


def _admits(policies: list[Resource], direction: str, subject: Pod, peer: Pod, port: int) -> bool:
    """Whether the policies selecting ``subject`` let ``direction`` traffic with ``peer`` on
    ``port`` through (a pod no policy of that direction selects is not isolated)."""
    field, peers = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    named = dict(subject.ports if direction == "Ingress" else peer.ports)
    isolating = []
    for policy in policies:
        spec = policy["spec"]
        types = spec.get("policyTypes") or ["Ingress", *(["Egress"] if "egress" in spec else [])]
        namespace = policy["metadata"].get("namespace", "default")
        if (
            direction in types
            and namespace == subject.namespace
            and selects(spec["podSelector"], dict(subject.labels))
        ):
            isolating.append(policy)
    if not isolating:
        return True
    return any(
        _port_matches(rule.get("ports"), port, named)
        and (
            not rule.get(peers)
            or any(
                _peer_matches(p, peer, policy["metadata"].get("namespace", "default"))
                for p in rule[peers]
            )
        )
        for policy in isolating
        for rule in policy["spec"].get(field) or []
    )


def reachable(policies: list[Resource], source: Pod, target: Pod, port: int) -> bool:
    """Whether ``source`` may open a connection to ``target`` on ``port``: its own egress and
    the target's ingress both allow it."""
    return _admits(policies, "Egress", source, target, port) and _admits(
        policies, "Ingress", target, source, port
    )


def check_redis_flows(report: Report, by_kind: dict[str, list[Resource]]) -> None:
    """Only the gateways and the auth service reach Redis and the Sentinels; the Redis nodes
    and the Sentinels reach each other; Prometheus reaches their exporters; nothing else."""
    policies = by_kind.get("NetworkPolicy", [])
    workloads = [r for kind in WORKLOADS for r in by_kind.get(kind, [])]
    # By the app's name: the migrations run as the Job chat-migrate.
    pods = {
        dict(pod.labels).get("app.kubernetes.io/name", pod.name): pod
        for pod in map(Pod.of, workloads)
    }
    backends: dict[str, list[Pod]] = {}
    for pod in pods.values():
        role = dict(pod.labels).get("chat-backend")
        if role in ("redis", "redis-sentinel"):
            backends.setdefault(role, []).append(pod)
    report.check("redis" in backends, "NetworkPolicy", "no Redis pods (label chat-backend: redis)")
    ports = {"redis": 6379, "redis-sentinel": 26379}
    namespace = next(iter(pods.values())).namespace if pods else "default"
    prometheus = Pod("prometheus", "monitoring", ())

    def expect(source: Pod, target: Pod, port: int, allowed: bool) -> None:
        report.check(
            reachable(policies, source, target, port) == allowed,
            f"NetworkPolicy ({source.namespace}/{source.name} -> {target.name}:{port})",
            "must be allowed" if allowed else "must be denied",
        )

    clients = [pods[name] for name in ("gateway", "auth-service") if name in pods]
    for role, targets in backends.items():
        for target in targets:
            port = ports[role]
            for client in clients:
                expect(client, target, port, True)
            for other in NOT_REDIS_CLIENTS:
                if other in pods:
                    expect(pods[other], target, port, False)
            # A group (prod): the nodes replicate from each other, the Sentinels watch them and
            # each other, and the nodes ask the Sentinels which of them is the primary.
            if "redis-sentinel" in backends:
                for peers in backends.values():
                    for peer in peers:
                        expect(peer, target, port, True)
            expect(
                Pod("intruder", namespace, (("app.kubernetes.io/name", "intruder"),)),
                target,
                port,
                False,
            )
            if "metrics" in dict(target.ports):
                expect(prometheus, target, dict(target.ports)["metrics"], True)


def secret_references(workload: Resource) -> Iterator[tuple[str, str | None, str]]:
    """Every Secret a workload's pods read: (name, key or None for the whole Secret, where)."""
    where = name_of(workload)
    for container in containers(workload):
        at = f"{where} container {container['name']}"
        for variable in container.get("env", []):
            selector = variable.get("valueFrom", {}).get("secretKeyRef")
            if selector is not None:
                yield selector["name"], selector["key"], f"{at} {variable['name']}"
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                yield source["secretRef"]["name"], None, f"{at} envFrom"
    for volume in pod_spec(workload).get("volumes", []):
        secret = volume.get("secret")
        if secret is None:
            continue
        at = f"{where} volume {volume['name']}"
        items = secret.get("items", [])
        if not items:
            yield secret["secretName"], None, at
        for item in items:
            yield secret["secretName"], item["key"], at


def _key_selectors(value: Any, where: str) -> Iterator[tuple[str, str | None, str]]:
    """CloudNativePG's secret key selectors ({name, key}) anywhere in a custom resource."""
    if isinstance(value, dict):
        if set(value) == {"name", "key"} and all(isinstance(v, str) for v in value.values()):
            yield value["name"], value["key"], where
            return
        for item in value.values():
            yield from _key_selectors(item, where)
    elif isinstance(value, list):
        for item in value:
            yield from _key_selectors(item, where)


def documented_secrets(namespace: str, document: Path = OPERATIONS_DOC) -> dict[str, set[str]]:
    """The Secrets docs/operations.md has the operator make in ``namespace``, with their keys."""
    text = document.read_text().replace("\\\n", " ")
    made: dict[str, set[str]] = {}
    for found in _CREATE_SECRET.finditer(text):
        if found[1] != namespace:
            continue
        keys = made.setdefault(found[3], set())
        if found[2] == "tls":
            keys.update({"tls.crt", "tls.key"})
            continue
        keys.update(_FROM_LITERAL.findall(found[4]))
        for source in _FROM_FILE.findall(found[4]):
            name, separator, _ = source.partition("=")
            keys.add(name if separator else Path(source).name)
    return made


def check_secret_references(
    report: Report, by_kind: dict[str, list[Resource]], document: Path = OPERATIONS_DOC
) -> None:
    """Every Secret key a pod or an operator reads is one that Secret has: a Secret of the
    manifests, one docs/operations.md has the operator make in the overlay's namespace, or the
    application Secret CloudNativePG makes for a Cluster."""
    resources = [r for kind in by_kind.values() for r in kind]
    namespace = next(
        (r["metadata"]["namespace"] for r in resources if "namespace" in r["metadata"]),
        "default",
    )
    available: dict[str, set[str]] = {}
    for secret in by_kind.get("Secret", []):
        keys = {*secret.get("data", {}), *secret.get("stringData", {})}
        available.setdefault(secret["metadata"]["name"], set()).update(keys)
    for cluster in by_kind.get("Cluster", []):
        available.setdefault(f"{cluster['metadata']['name']}-app", set()).update(
            CNPG_APP_SECRET_KEYS
        )
    for name, keys in documented_secrets(namespace, document).items():
        available.setdefault(name, set()).update(keys)
    references = [
        reference
        for kind in WORKLOADS
        for workload in by_kind.get(kind, [])
        for reference in secret_references(workload)
    ]
    for cluster in by_kind.get("Cluster", []):
        references += list(_key_selectors(cluster["spec"], name_of(cluster)))
    for name, key, where in references:
        if name not in available:
            report.errors.append(
                f"{report.overlay}: {where}: Secret {name} is neither in the manifests nor made"
                f" in namespace {namespace} by docs/operations.md"
            )
        elif key is not None and key not in available[name]:
            report.errors.append(
                f"{report.overlay}: {where}: Secret {name} has no key {key}"
                f" (it has {', '.join(sorted(available[name]))})"
            )


def _secret_refs(workload: Resource) -> dict[str, tuple[str, str]]:
    """The first container's variables that come from a Secret: variable → (Secret, key)."""
    container = pod_spec(workload)["containers"][0]
    return {
        variable["name"]: (selector["name"], selector["key"])
        for variable in container.get("env", [])
        if (selector := variable.get("valueFrom", {}).get("secretKeyRef")) is not None
    }


def public_store(settings: ObjectStoreSettings) -> tuple[str, str]:
    """Where browsers fetch the store's files: the origin, and the path every key follows
    (``/<bucket>/`` path-style; ``/`` when the bucket is in the host name)."""
    base = urlsplit(settings.public_endpoint_url or settings.endpoint_url)
    path = base.path.rstrip("/")
    if settings.path_style:
        return f"{base.scheme}://{base.netloc}", f"{path}/{settings.bucket}/"
    return f"{base.scheme}://{settings.bucket}.{base.netloc}", f"{path}/"


def check_object_store(report: Report, by_kind: dict[str, list[Resource]]) -> None:
    """The gateways and the media worker get every setting of the object store, the key pair
    from a Secret, the same store as each other, and the internal token from one Secret key;
    the media worker calls the gateways through their Service. Then where browsers reach the
    store is checked (check_attachment_route)."""
    config_maps = {r["metadata"]["name"]: r for r in by_kind.get("ConfigMap", [])}
    deployments = {r["metadata"]["name"]: r for r in by_kind.get("Deployment", [])}
    fields = {f"{OBJECT_STORE_PREFIX}{f.upper()}" for f in ObjectStoreSettings.__struct_fields__}
    loaded: dict[str, ObjectStoreSettings] = {}
    credentials: dict[str, tuple[tuple[str, str] | None, ...]] = {}
    tokens: dict[str, tuple[str, str] | None] = {}
    for name in OBJECT_STORE_CLIENTS:
        deployment = deployments.get(name)
        if deployment is None:
            continue
        where = name_of(deployment)
        env = environment(deployment, config_maps)
        refs = _secret_refs(deployment)
        for setting in OBJECT_STORE_REQUIRED:
            report.check(
                f"{OBJECT_STORE_PREFIX}{setting}" in env,
                where,
                f"no {OBJECT_STORE_PREFIX}{setting}",
            )
        for variable in sorted(env):
            if variable.startswith(OBJECT_STORE_PREFIX):
                report.check(
                    variable in fields, where, f"{variable} is no setting of the object store"
                )
        for setting in OBJECT_STORE_SECRET_SETTINGS:
            variable = f"{OBJECT_STORE_PREFIX}{setting}"
            report.check(
                variable not in env or variable in refs,
                where,
                f"{variable} is not read from a Secret",
            )
        credentials[name] = tuple(
            refs.get(f"{OBJECT_STORE_PREFIX}{s}") for s in OBJECT_STORE_SECRET_SETTINGS
        )
        try:
            loaded[name] = load_settings(ObjectStoreSettings, OBJECT_STORE_PREFIX, env)
        except SettingsError as exc:
            report.errors.append(f"{report.overlay}: {where}: {exc}")
        token = INTERNAL_TOKENS[name]
        report.check(token in refs, where, f"{token} is not read from a Secret")
        tokens[name] = refs.get(token)
    if len(loaded) == len(OBJECT_STORE_CLIENTS):
        gateway, media = (loaded[name] for name in OBJECT_STORE_CLIENTS)
        report.check(
            gateway == media,
            "Deployment/media-worker",
            "its object store settings differ from the gateways'",
        )
        report.check(
            credentials["gateway"] == credentials["media-worker"],
            "Deployment/media-worker",
            "its object store key pair is not the Secret keys the gateways read",
        )
    if len(tokens) == len(INTERNAL_TOKENS):
        report.check(
            tokens["gateway"] == tokens["media-worker"],
            "Deployment/media-worker",
            f"{INTERNAL_TOKENS['media-worker']} {tokens['media-worker']} is not the Secret key"
            f" the gateways' {INTERNAL_TOKENS['gateway']} comes from {tokens['gateway']}",
        )
    if "media-worker" in deployments:
        check_media_gateway_url(report, by_kind, deployments, config_maps)
    if "gateway" in loaded:
        check_attachment_route(report, by_kind, loaded["gateway"])
        check_object_store_flows(report, by_kind, loaded["gateway"])


def _service_port(service: Resource, port: int, workload: Resource) -> int | None:
    """The container port a Service's ``port`` leads to on the workload's pods."""
    named = dict(Pod.of(workload).ports)
    for entry in service["spec"].get("ports", []):
        if int(entry["port"]) != port:
            continue
        target = entry.get("targetPort", entry["port"])
        return named.get(target) if isinstance(target, str) else int(target)
    return None


def check_media_gateway_url(
    report: Report,
    by_kind: dict[str, list[Resource]],
    deployments: dict[str, Resource],
    config_maps: dict[str, Resource],
) -> None:
    """The media worker reaches the gateways' HTTP port through their Service, never the site."""
    where = "Deployment/media-worker"
    url = environment(deployments["media-worker"], config_maps).get(MEDIA_GATEWAY_URL, "")
    parts = urlsplit(url)
    gateway = deployments.get("gateway")
    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    service = services.get((parts.hostname or "").split(".")[0])
    reaches = (
        gateway is not None
        and service is not None
        and selects(
            {"matchLabels": service["spec"].get("selector", {})}, dict(Pod.of(gateway).labels)
        )
        and _service_port(service, parts.port or 80, gateway) == SERVICES["gateway"].port
    )
    report.check(
        parts.scheme == "http" and reaches,
        where,
        f"{MEDIA_GATEWAY_URL} {url!r} is not the gateway Service's HTTP port"
        f" ({SERVICES['gateway'].port})",
    )


def attachment_headers(path: Path = ATTACHMENT_HEADERS) -> dict[str, str]:
    """The headers the balancer sends on every response under /chat-attachments/, by name;
    HSTS, a variable there, is the Ingress controller's own."""
    return dict(_ADD_HEADER.findall(path.read_text()))


def balancer_body_limit(path: Path = CHAT_LOCATIONS) -> str:
    """client_max_body_size of the balancer's /chat-attachments/ location: the upload limit."""
    location = _ATTACHMENT_LOCATION.search(path.read_text())
    limit = _BODY_LIMIT.search(location[1]) if location else None
    if limit is None:
        raise SystemExit(f"{path}: no client_max_body_size in location ^~ /chat-attachments/")
    return limit[1]


def check_attachment_route(
    report: Report,
    by_kind: dict[str, list[Resource]],
    settings: ObjectStoreSettings,
    headers: Path = ATTACHMENT_HEADERS,
    locations: Path = CHAT_LOCATIONS,
) -> None:
    """Where browsers reach the store. At the site's own origin, an Ingress routes the public
    endpoint's path to the store's Service unchanged (the signature covers it), with the
    balancer's sandbox headers and upload limit; at an origin of its own, the web app's
    Content-Security-Policy names that origin."""
    origin, prefix = public_store(settings)
    public = urlsplit(origin)
    ingresses = by_kind.get("Ingress", [])
    sites = {rule["host"] for ingress in ingresses for rule in ingress["spec"]["rules"]}
    where = f"{OBJECT_STORE_PREFIX}PUBLIC_ENDPOINT_URL {origin}"
    if public.netloc not in sites:
        check_attachment_origin(report, by_kind, origin)
        return
    report.check(
        settings.path_style,
        where,
        "is the site's origin but not path-style: the bucket would need a host name of its own",
    )
    report.check(
        prefix == f"/{settings.bucket}/",
        where,
        f"has a path: the store checks the signature against the path the browser asked for,"
        f" so files must be at /{settings.bucket}/ of the site",
    )
    routes = ingress_routes(ingresses).get(public.netloc, [])
    uri = prefix + SAMPLE_KEY
    route = route_for(routes, uri)
    store = (urlsplit(settings.endpoint_url).hostname or "").split(".")[0]
    if route is None or route.service != store:
        reached = "nothing" if route is None else f"Service {route.service}"
        report.errors.append(
            f"{report.overlay}: Ingress: {public.netloc}{uri} reaches {reached}, not the object"
            f" store's Service {store} (the Ingress path must be the public endpoint's {prefix})"
        )
        return
    at = f"Ingress/{route.ingress}"
    report.check(
        route.path == prefix,
        at,
        f"routes {route.path}, not the public endpoint's path {prefix}",
    )
    report.check(
        upstream_uri(route, uri) == uri,
        at,
        f"rewrites {uri} to {upstream_uri(route, uri)}: the store checks the signature against"
        " the path the browser signed",
    )
    ingress = next(i for i in ingresses if i["metadata"]["name"] == route.ingress)
    annotations = ingress["metadata"].get("annotations", {})
    namespace = ingress["metadata"].get("namespace", "default")
    named = annotations.get(CUSTOM_HEADERS, "")
    config_map = next(
        (
            c
            for c in by_kind.get("ConfigMap", [])
            if f"{c['metadata'].get('namespace', 'default')}/{c['metadata']['name']}" == named
        ),
        None,
    )
    report.check(
        config_map is not None,
        at,
        f"{CUSTOM_HEADERS} {named!r} names no ConfigMap {namespace}/<name> of the manifests:"
        " the attachment path would carry no sandbox Content-Security-Policy",
    )
    sent = config_map.get("data", {}) if config_map is not None else {}
    policy = sent.get("Content-Security-Policy", "").split("; ")
    report.check(
        config_map is None or ("sandbox" in policy and "default-src 'none'" in policy),
        at,
        "the attachment path's Content-Security-Policy is not `sandbox; default-src 'none'`",
    )
    for header, value in attachment_headers(headers).items():
        report.check(
            config_map is None or sent.get(header) == value,
            at,
            f"sends {header} {sent.get(header)!r}, not the balancer's {value!r} ({headers.name})",
        )
    limit = balancer_body_limit(locations)
    body = annotations.get("nginx.ingress.kubernetes.io/proxy-body-size")
    report.check(
        body == limit,
        at,
        f"proxy-body-size {body} is not the upload limit of the balancer ({limit})",
    )
    report.check(
        annotations.get("nginx.ingress.kubernetes.io/proxy-request-buffering") == "off",
        at,
        "buffers uploads (proxy-request-buffering is not off)",
    )


def check_attachment_origin(
    report: Report, by_kind: dict[str, list[Resource]], origin: str
) -> None:
    """A store at an origin of its own: the web pods mount the file that puts it into the
    app's Content-Security-Policy (img-src and connect-src)."""
    config_maps = {r["metadata"]["name"]: r for r in by_kind.get("ConfigMap", [])}
    web = next((d for d in by_kind.get("Deployment", []) if d["metadata"]["name"] == "web"), None)
    named: set[str] = set()
    if web is not None:
        volumes = {v["name"]: v for v in pod_spec(web).get("volumes", [])}
        for container in pod_spec(web)["containers"]:
            for mount in container.get("volumeMounts", []):
                if not ATTACHMENT_ORIGIN_MOUNT.match(mount["mountPath"]):
                    continue
                source = volumes.get(mount["name"], {}).get("configMap", {})
                data = config_maps.get(source.get("name", ""), {}).get("data", {})
                for line in str(data.get(mount.get("subPath", ""), "")).splitlines():
                    if found := _ATTACHMENT_ORIGIN.match(line):
                        named.add(found[1])
    report.check(
        origin in named,
        "Deployment/web",
        f"the app's Content-Security-Policy does not allow the object store's origin {origin}:"
        f" no /etc/nginx/attachment-origin.conf naming it (it names {sorted(named)})",
    )


def check_object_store_flows(
    report: Report, by_kind: dict[str, list[Resource]], settings: ObjectStoreSettings
) -> None:
    """The NetworkPolicies let the gateways and the media worker reach the store, and the media
    worker the gateways' HTTP port; no other pod of the system reaches an in-cluster store."""
    policies = by_kind.get("NetworkPolicy", [])
    workloads = [r for kind in WORKLOADS for r in by_kind.get(kind, [])]
    pods = {dict(p.labels).get("app.kubernetes.io/name", p.name): p for p in map(Pod.of, workloads)}
    endpoint = urlsplit(settings.endpoint_url)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    service = services.get((endpoint.hostname or "").split(".")[0])
    targets: list[Pod] = []
    if service is not None:
        selector = {"matchLabels": service["spec"].get("selector", {})}
        for workload in workloads:
            pod = Pod.of(workload)
            if selects(selector, dict(pod.labels)):
                target_port = _service_port(service, port, workload)
                report.check(
                    target_port is not None,
                    f"Service/{service['metadata']['name']}",
                    f"has no port {port} ({OBJECT_STORE_PREFIX}ENDPOINT_URL)",
                )
                targets.append(
                    Pod(pod.name, pod.namespace, pod.labels, ((str(port), target_port or -1),))
                )
        report.check(bool(targets), f"Service/{service['metadata']['name']}", "selects no pod")
    else:
        # Outside the cluster: an address of the public internet.
        targets.append(Pod("object-store", "", (), (), PUBLIC_ADDRESS))

    def expect(source: Pod, target: Pod, target_port: int, allowed: bool) -> None:
        report.check(
            reachable(policies, source, target, target_port) == allowed,
            f"NetworkPolicy ({source.namespace}/{source.name} -> {target.name}:{target_port})",
            "must be allowed" if allowed else "must be denied",
        )

    for target in targets:
        target_port = target.ports[0][1] if target.ports else port
        for name in OBJECT_STORE_CLIENTS:
            if name in pods:
                expect(pods[name], target, target_port, True)
        if target.address is None:
            for name in ("auth-service", "persistence-worker", "web", "migrations"):
                if name in pods:
                    expect(pods[name], target, target_port, False)
    if "media-worker" in pods and "gateway" in pods:
        expect(pods["media-worker"], pods["gateway"], SERVICES["gateway"].port, True)


def check_stateful_sets(report: Report, by_kind: dict[str, list[Resource]]) -> None:
    """prod: a StatefulSet holds data (Redis's append-only files, the Sentinels' state), so each
    keeps it on volumes of its own, is under a PDB that lets one pod go at a time, and runs three
    pods that a node's or a zone's loss cannot take two of."""
    if report.overlay != "prod":
        return
    budgets = by_kind.get("PodDisruptionBudget", [])
    for workload in by_kind.get("StatefulSet", []):
        where = name_of(workload)
        spec = workload["spec"]
        labels = spec["template"]["metadata"].get("labels", {})
        claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
        report.check(bool(claims), where, "no volumeClaimTemplates: its data dies with the pod")
        mounted = {
            mount["name"]
            for container in containers(workload)
            for mount in container.get("volumeMounts", [])
        }
        for claim in sorted(claims - mounted):
            report.check(False, where, f"volumeClaimTemplate {claim} is mounted by no container")
        covering = [b for b in budgets if selects(b["spec"]["selector"], labels)]
        report.check(bool(covering), where, "no PodDisruptionBudget")
        for budget in covering:
            report.check(
                budget["spec"].get("maxUnavailable") == 1,
                name_of(budget),
                f"maxUnavailable is not 1 for {where}",
            )
        report.check(int(spec.get("replicas", 1)) >= 3, where, "fewer than 3 replicas")
        template_spec = pod_spec(workload)
        apart = template_spec.get("affinity", {}).get("podAntiAffinity", {})
        report.check(
            any(
                term["topologyKey"] == "kubernetes.io/hostname"
                and selects(term["labelSelector"], labels)
                for term in apart.get("requiredDuringSchedulingIgnoredDuringExecution", [])
            ),
            where,
            "two of its pods may share a node (no required podAntiAffinity on the hostname)",
        )
        report.check(
            any(
                constraint["topologyKey"] == "topology.kubernetes.io/zone"
                and selects(constraint["labelSelector"], labels)
                for constraint in template_spec.get("topologySpreadConstraints", [])
            ),
            where,
            "not spread over zones (no topologySpreadConstraint on the zone)",
        )


def documented_redis_url(document: Path = OPERATIONS_DOC) -> str | None:
    """The URL docs/operations.md has the operator put in the prod Secret chat-redis, with a
    placeholder password."""
    found = _REDIS_SECRET_URL.search(document.read_text())
    return found[1].replace("$password", "secret") if found else None


def service_host(host: str, namespace: str) -> str:
    """``<pod>.<service>`` for a pod's DNS name through a headless Service, given short or
    with its namespace (``<pod>.<service>.<namespace>.svc[.<cluster domain>]``); the name as
    given when it is neither."""
    parts = host.split(".")
    if len(parts) == 2 or (len(parts) >= 4 and parts[2] == namespace and parts[3] == "svc"):
        return ".".join(parts[:2])
    return host


def _container_env(workload: Resource) -> dict[str, str]:
    return {
        variable["name"]: str(variable["value"])
        for container in containers(workload)
        for variable in container.get("env", [])
        if "value" in variable
    }


def check_redis_url(
    report: Report,
    by_kind: dict[str, list[Resource]],
    url: str | None = None,
    document: Path = OPERATIONS_DOC,
) -> None:
    """prod: the services' Redis URL (the Secret chat-redis, made by hand as docs/operations.md
    says) goes through the Sentinels the manifests run, to the primary they watch, and waits for
    fewer replicas than there are, so losing one replica does not stop sends."""
    if report.overlay != "prod":
        return
    where = "Secret chat-redis (docs/operations.md, Deploy)"
    url = url if url is not None else documented_redis_url(document)
    report.check(url is not None, where, "no `kubectl -n chat create secret generic chat-redis`")
    if url is None:
        return
    if not url.startswith(f"{SENTINEL_SCHEME}://"):
        report.errors.append(f"{report.overlay}: {where}: url is not {SENTINEL_SCHEME}://: {url}")
        return
    try:
        group = SentinelGroup.of(url)
    except ValueError as exc:
        report.errors.append(f"{report.overlay}: {where}: {exc}")
        return
    config_maps = {r["metadata"]["name"]: r for r in by_kind.get("ConfigMap", [])}
    deployments = {r["metadata"]["name"]: r for r in by_kind.get("Deployment", [])}
    for name in ("gateway", "auth-service"):
        settings, prefix, *_ = SERVICES[name]
        if name in deployments and settings is not None:
            env = environment(deployments[name], config_maps)
            env[f"{prefix}REDIS_URL"] = url
            check_settings(report, deployments[name], env, settings, prefix)
    stateful = {s["metadata"]["name"]: s for s in by_kind.get("StatefulSet", [])}
    sentinels = [
        s
        for s in stateful.values()
        if any(
            int(port["containerPort"]) == group.sentinels[0][1]
            for container in containers(s)
            for port in container.get("ports", [])
        )
    ]
    report.check(
        len(sentinels) == 1, where, f"no one StatefulSet listens on {group.sentinels[0][1]}"
    )
    if len(sentinels) != 1:
        return
    sentinel = sentinels[0]
    count = int(sentinel["spec"].get("replicas", 1))
    service = sentinel["spec"]["serviceName"]
    expected = {f"{sentinel['metadata']['name']}-{i}.{service}" for i in range(count)}
    namespace = sentinel["metadata"].get("namespace", "default")
    named = {service_host(host, namespace) for host, _ in group.sentinels}
    report.check(
        named == expected,
        where,
        f"names the Sentinels {sorted(named)}, the manifests run {sorted(expected)}",
    )
    ports = {port for _, port in group.sentinels}
    report.check(len(ports) == 1, where, f"Sentinels on several ports {sorted(ports)}")
    env = _container_env(sentinel)
    report.check(
        env.get("MASTER_NAME") == group.master,
        where,
        f"names the primary {group.master!r}; the Sentinels watch {env.get('MASTER_NAME')!r}",
    )
    quorum = int(env.get("QUORUM", "0"))
    report.check(
        count >= 3 and count // 2 < quorum < count,
        name_of(sentinel),
        f"quorum {quorum} of {count} Sentinels: not a majority that survives losing one",
    )
    redis = stateful.get(env.get("REDIS_SERVICE", ""))
    report.check(redis is not None, name_of(sentinel), "its REDIS_SERVICE is no StatefulSet")
    if redis is None:
        return
    replicas = int(redis["spec"].get("replicas", 1)) - 1
    report.check(
        1 <= group.replicas < replicas,
        where,
        f"?replicas={group.replicas} with {replicas} replicas: must be at least 1 (a failover"
        " keeps every numbered write) and fewer than the replicas (one can be lost)",
    )


def check_ingress(report: Report, by_kind: dict[str, list[Resource]], ping_s: float) -> None:
    routes: dict[str, str] = {}
    for ingress in by_kind.get("Ingress", []):
        where = name_of(ingress)
        spec = ingress["spec"]
        report.check(bool(spec.get("tls")), where, "no TLS")
        hosts = {h for t in spec.get("tls", []) for h in t.get("hosts", [])}
        for rule in spec["rules"]:
            report.check(rule.get("host") in hosts, where, f"host {rule.get('host')} without TLS")
            for path in rule["http"]["paths"]:
                routes[path["path"]] = path["backend"]["service"]["name"]
        annotations = ingress["metadata"].get("annotations", {})
        if any(
            p["backend"]["service"]["name"] == "gateway"
            for r in spec["rules"]
            for p in r["http"]["paths"]
        ):
            timeout = float(annotations.get("nginx.ingress.kubernetes.io/proxy-read-timeout", 60))
            report.check(
                timeout > 2 * ping_s, where, f"proxy-read-timeout {timeout} s not above two pings"
            )
    expected = {"/ws": "gateway", "/v1/": "gateway", "/auth/(v1/.*)": "auth-service", "/": "web"}
    for path, service in expected.items():
        report.check(routes.get(path) == service, "Ingress", f"{path} does not go to {service}")
    check_published_paths(report, by_kind.get("Ingress", []))


@dataclass(frozen=True)
class IngressRoute:
    ingress: str
    path: str
    path_type: str
    service: str
    rewrite: str | None
    regex: bool


def ingress_routes(ingresses: list[Resource]) -> dict[str, list[IngressRoute]]:
    """Every path of every Ingress, by host."""
    by_host: dict[str, list[IngressRoute]] = {}
    for ingress in ingresses:
        annotations = ingress["metadata"].get("annotations", {})
        rewrite = annotations.get("nginx.ingress.kubernetes.io/rewrite-target")
        regex = annotations.get("nginx.ingress.kubernetes.io/use-regex") == "true"
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                by_host.setdefault(rule.get("host", "*"), []).append(
                    IngressRoute(
                        ingress["metadata"]["name"],
                        path["path"],
                        path.get("pathType", "ImplementationSpecific"),
                        path["backend"]["service"]["name"],
                        rewrite,
                        regex or rewrite is not None,
                    )
                )
    return by_host


def route_for(routes: list[IngressRoute], uri: str) -> IngressRoute | None:
    """The route ingress-nginx picks for ``uri`` among one host's routes."""
    if any(route.regex for route in routes):
        # A regex or a rewrite on any Ingress of a host makes every path of the host a
        # case-insensitive regular expression anchored at the start, tried longest first.
        for route in sorted(routes, key=lambda r: len(r.path), reverse=True):
            if re.match(route.path, uri, re.IGNORECASE):
                return route
        return None
    for route in routes:
        if route.path_type == "Exact" and route.path == uri:
            return route
    prefixes = [
        r
        for r in routes
        if r.path_type != "Exact" and (uri == r.path or uri.startswith(r.path.rstrip("/") + "/"))
    ]
    return max(prefixes, key=lambda r: len(r.path), default=None)


def upstream_uri(route: IngressRoute, uri: str) -> str:
    """The path the service is asked for: ``rewrite-target`` with the path's groups filled in
    (nginx makes a group the path does not have empty)."""
    match = re.search(route.path, uri, re.IGNORECASE) if route.rewrite else None
    if route.rewrite is None or match is None:
        return uri
    groups = ("", *match.groups(default=""))

    def group(reference: re.Match[str]) -> str:
        number = int(reference[1])
        return groups[number] if number < len(groups) else ""

    return re.sub(r"\$(\d)", group, route.rewrite)


def check_published_paths(report: Report, ingresses: list[Resource]) -> None:
    """No request through the Ingresses reaches a service's metrics or probes, or the routes
    between services under /internal/ (the media worker's on the gateways).

    Tries each internal path after the literal start of every route's path (``/auth`` for
    ``/auth/(v1/.*)``, nothing for ``/``), the requests a prefix-stripping route would turn
    into an internal path.
    """
    internal = {name for name, service in SERVICES.items() if service.settings or service.missing}
    probes = (*INTERNAL_PATHS, INTERNAL_ROUTE)
    for host, routes in ingress_routes(ingresses).items():
        starts = {_REGEX_SYNTAX.split(route.path, 1)[0].rstrip("/") for route in routes}
        for uri in sorted(start + path for start in starts for path in probes):
            route = route_for(routes, uri)
            if route is None or route.service not in internal:
                continue
            upstream = upstream_uri(route, uri).split("?", 1)[0]
            report.check(
                upstream not in INTERNAL_PATHS and not upstream.startswith(INTERNAL_PREFIX),
                f"Ingress/{route.ingress}",
                f"{host}{uri} reaches {route.service}'s {upstream}, which is for the cluster only",
            )


def check_kafka(report: Report, by_kind: dict[str, list[Resource]]) -> None:
    if report.overlay != "prod":
        return
    topics = {t["metadata"]["name"]: t["spec"] for t in by_kind.get("KafkaTopic", [])}
    for topic, partitions in (("chat.messages", 12), ("chat.messages.dlq", 3)):
        spec = topics.get(topic, {})
        where = f"KafkaTopic/{topic}"
        report.check(spec.get("partitions") == partitions, where, f"not {partitions} partitions")
        report.check(spec.get("replicas") == 3, where, "not 3 replicas")
        report.check(
            spec.get("config", {}).get("min.insync.replicas") == 2,
            where,
            "min.insync.replicas not 2",
        )


def sort_by_validator(resources: list[Resource], output: Path, report: Report) -> None:
    builtin = [r for r in resources if not is_custom(r)]
    crds = [r for r in resources if group_of(r) in KUBECONFORM_GROUPS]
    strimzi = [r for r in resources if group_of(r) in STRIMZI_GROUPS]
    for resource in resources:
        group = group_of(resource)
        report.check(
            not is_custom(resource) or group in KUBECONFORM_GROUPS | STRIMZI_GROUPS,
            name_of(resource),
            f"no schema source for the API group {group}",
        )
    output.mkdir(parents=True, exist_ok=True)
    (output / "builtin.yaml").write_text(yaml.safe_dump_all(builtin, sort_keys=False))
    (output / "crds.yaml").write_text(yaml.safe_dump_all(crds, sort_keys=False))
    (output / "strimzi.json").write_text(json.dumps(strimzi))


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    overlay, built, output = argv[1], Path(argv[2]), Path(argv[3])
    resources = [r for r in yaml.safe_load_all(built.read_text()) if r]
    by_kind: dict[str, list[Resource]] = {}
    for resource in resources:
        by_kind.setdefault(resource["kind"], []).append(resource)
    report = Report(overlay)
    sort_by_validator(resources, output, report)
    for workload in (r for kind in WORKLOADS for r in by_kind.get(kind, [])):
        check_container_bounds(report, workload)
    checks: list[Callable[[Report, dict[str, list[Resource]]], None]] = [
        check_services,
        check_companions,
        check_scaled_replicas,
        check_network_policies,
        check_kafka,
        check_monitoring_labels,
        check_database_connections,
        check_migrations,
        check_redis_flows,
        check_stateful_sets,
        check_redis_url,
        check_secret_references,
        check_object_store,
    ]
    for check in checks:
        check(report, by_kind)
    gateway_config: Resource = next(
        (
            c
            for c in by_kind.get("ConfigMap", [])
            if c["metadata"]["name"].startswith("gateway-config")
        ),
        {"data": {}},
    )
    ping = float(gateway_config["data"].get(f"{GATEWAY_PREFIX}PING_INTERVAL_S", 20))
    check_ingress(report, by_kind, ping)
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    if report.errors:
        return 1
    kinds = ", ".join(f"{len(v)} {k}" for k, v in sorted(by_kind.items()))
    print(f"{overlay}: {len(resources)} resources pass the policy checks ({kinds})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
