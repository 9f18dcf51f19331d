"""The checks of make k8s-check refuse what they exist to refuse.

make k8s-check runs them on the real manifests, Dockerfiles and dashboards, where they pass;
these tests break one thing at a time in copies and expect each checker to name it.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
VALIDATE = ROOT / "deploy" / "validate"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"chat_validate_{name}", VALIDATE / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up while the class is made.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


manifests = _load("manifests")
dockerfiles = _load("dockerfiles")
crd_schemas = _load("crd_schemas")
metric_names = _load("metric_names")


def _kustomize() -> str:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    found = sorted((cache / "chat" / "tools").glob("kustomize-*/kustomize"))
    if not found:
        pytest.fail("kustomize is not installed: run make k8s-check (make test runs it first)")
    return str(found[-1])


@pytest.fixture(scope="module")
def prod() -> list[dict[str, Any]]:
    built = subprocess.run(
        [_kustomize(), "build", str(ROOT / "k8s" / "overlays" / "prod")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [r for r in yaml.safe_load_all(built) if r]


def _errors(resources: list[dict[str, Any]], tmp_path: Path) -> list[str]:
    built = tmp_path / "all.yaml"
    built.write_text(yaml.safe_dump_all(resources))
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        by_kind.setdefault(resource["kind"], []).append(resource)
    report = manifests.Report("prod")
    manifests.sort_by_validator(resources, tmp_path, report)
    for workload in (r for kind in manifests.WORKLOADS for r in by_kind.get(kind, [])):
        manifests.check_container_bounds(report, workload)
    manifests.check_services(report, by_kind)
    manifests.check_companions(report, by_kind)
    manifests.check_scaled_replicas(report, by_kind)
    manifests.check_network_policies(report, by_kind)
    manifests.check_kafka(report, by_kind)
    manifests.check_monitoring_labels(report, by_kind)
    manifests.check_database_connections(report, by_kind)
    manifests.check_migrations(report, by_kind)
    manifests.check_ingress(report, by_kind, 20.0)
    errors: list[str] = report.errors
    return errors


def _find(resources: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for resource in resources:
        if resource["kind"] == kind and resource["metadata"]["name"].startswith(name):
            return resource
    raise AssertionError(f"no {kind}/{name}")


def test_the_prod_overlay_passes(prod: list[dict[str, Any]], tmp_path: Path) -> None:
    assert _errors(prod, tmp_path) == []


def test_a_grace_period_shorter_than_the_drain_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    _find(broken, "Deployment", "gateway")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ] = 15
    assert any("terminationGracePeriodSeconds 15" in e for e in _errors(broken, tmp_path))


def test_an_unknown_or_invalid_setting_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    data = _find(broken, "ConfigMap", "gateway-config")["data"]
    data["CHAT_GATEWAY_DRAIN_GRACE_SECONDS"] = "10"
    data["CHAT_GATEWAY_PING_INTERVAL_S"] = "0"
    errors = _errors(broken, tmp_path)
    assert any("CHAT_GATEWAY_DRAIN_GRACE_SECONDS is no setting" in e for e in errors)
    assert any("CHAT_GATEWAY_PING_INTERVAL_S" in e for e in errors)


def test_origins_the_site_is_not_in_are_refused(prod: list[dict[str, Any]], tmp_path: Path) -> None:
    broken = copy.deepcopy(prod)
    data = _find(broken, "ConfigMap", "auth-config")["data"]
    data["CHAT_AUTH_ALLOWED_ORIGINS"] = "https://localhost:8443"
    _find(broken, "ConfigMap", "gateway-config")["data"]["CHAT_GATEWAY_TOKEN_ISSUER"] = "other"
    errors = _errors(broken, tmp_path)
    assert any("ALLOWED_ORIGINS differs" in e for e in errors)
    assert any("TOKEN_ISSUER differs" in e for e in errors)


def test_a_probe_off_the_health_route_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    container = _find(broken, "Deployment", "persistence-worker")["spec"]["template"]["spec"][
        "containers"
    ][0]
    container["readinessProbe"]["httpGet"]["path"] = "/healthz"
    assert any("readiness probe is not GET /readyz" in e for e in _errors(broken, tmp_path))


def test_a_writable_or_privileged_container_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    container = _find(broken, "Deployment", "auth-service")["spec"]["template"]["spec"][
        "containers"
    ][0]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    del container["resources"]["limits"]
    errors = _errors(broken, tmp_path)
    assert any("root filesystem writable" in e for e in errors)
    assert any("no memory in resources.limits" in e for e in errors)


def test_a_pod_outside_the_default_deny_policy_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    labels = _find(broken, "Deployment", "web")["spec"]["template"]["metadata"]["labels"]
    del labels["app.kubernetes.io/part-of"]
    assert any("escape the default-deny" in e for e in _errors(broken, tmp_path))


def test_a_short_websocket_timeout_and_a_missing_pdb_are_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = [
        r
        for r in copy.deepcopy(prod)
        if r["metadata"]["name"] != "gateway" or r["kind"] != "PodDisruptionBudget"
    ]
    annotations = _find(broken, "Ingress", "chat-gateway")["metadata"]["annotations"]
    annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] = "30"
    errors = _errors(broken, tmp_path)
    assert any("proxy-read-timeout 30.0 s" in e for e in errors)
    assert any("Deployment/gateway: no PodDisruptionBudget" in e for e in errors)


def test_an_ingress_that_publishes_the_auth_services_metrics_or_probes_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    # The Ingress as it was: one regex for all of /auth/, the internal paths sent to the web
    # app by exact paths that the longer regex beats.
    broken = copy.deepcopy(prod)
    auth = _find(broken, "Ingress", "chat-auth")
    auth["metadata"]["annotations"]["nginx.ingress.kubernetes.io/rewrite-target"] = "/$2"
    paths = auth["spec"]["rules"][0]["http"]["paths"]
    paths[:] = [{**paths[0], "path": "/auth(/|$)(.*)"}]
    web = _find(broken, "Ingress", "chat-web")["spec"]["rules"][0]["http"]["paths"]
    for internal in ("/auth/metrics", "/auth/healthz", "/auth/readyz"):
        web.append({**web[0], "path": internal, "pathType": "Exact"})
    errors = _errors(broken, tmp_path)
    for internal in ("metrics", "healthz", "readyz"):
        assert any(
            f"Ingress/chat-auth: chat.example.com/auth/{internal} reaches auth-service's"
            f" /{internal}" in e
            for e in errors
        ), errors


def test_a_gateway_route_that_reaches_its_metrics_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    gateway = _find(broken, "Ingress", "chat-gateway")
    paths = gateway["spec"]["rules"][0]["http"]["paths"]
    # /v1/… without its prefix: /v1/metrics would become the gateway's /metrics.
    gateway["metadata"]["annotations"]["nginx.ingress.kubernetes.io/rewrite-target"] = "/$1"
    paths[1] = {**paths[1], "path": "/v1/(.*)", "pathType": "ImplementationSpecific"}
    errors = _errors(broken, tmp_path)
    assert any("chat.example.com/v1/metrics reaches gateway's /metrics" in e for e in errors)


def test_an_under_replicated_topic_is_refused(prod: list[dict[str, Any]], tmp_path: Path) -> None:
    broken = copy.deepcopy(prod)
    _find(broken, "KafkaTopic", "chat.messages")["spec"]["config"]["min.insync.replicas"] = 1
    assert any("min.insync.replicas not 2" in e for e in _errors(broken, tmp_path))


def test_a_replica_count_under_an_hpa_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    _find(broken, "Deployment", "gateway")["spec"]["replicas"] = 3
    assert any(
        "Deployment/gateway: sets replicas while an HorizontalPodAutoscaler scales it" in e
        for e in _errors(broken, tmp_path)
    )


def test_a_monitor_or_rule_prometheus_would_not_select_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    del _find(broken, "ServiceMonitor", "gateway")["metadata"]["labels"]["release"]
    _find(broken, "PrometheusRule", "chat")["metadata"]["labels"]["release"] = "prometheus"
    errors = _errors(broken, tmp_path)
    assert any("ServiceMonitor/gateway: no release label" in e for e in errors)
    assert any("release labels differ" in e for e in errors)


def test_services_that_bypass_the_pooler_are_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    data = _find(broken, "ConfigMap", "backing-services")["data"]
    data["postgres_address"] = "chat-postgres-rw:5432"
    errors = _errors(broken, tmp_path)
    for service in ("gateway", "auth-service", "persistence-worker"):
        assert any(
            f"Deployment/{service}: reaches Postgres at 'chat-postgres-rw', not a Pooler" in e
            for e in errors
        ), errors


def test_pools_that_outgrow_the_pooler_or_postgres_are_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    # 40 gateways of 10 connections: 400 + auth-service 100 + persistence-worker 36 = 536.
    broken = copy.deepcopy(prod)
    _find(broken, "HorizontalPodAutoscaler", "gateway")["spec"]["maxReplicas"] = 40
    _find(broken, "Cluster", "chat-postgres")["spec"]["postgresql"]["parameters"][
        "max_connections"
    ] = "300"
    errors = _errors(broken, tmp_path)
    assert any(
        "Pooler/chat-postgres-pooler: one instance opens at most 450 connections < 536" in e
        for e in errors
    ), errors
    assert any("Cluster/chat-postgres: max_connections 300 < 2 poolers x 450" in e for e in errors)


def test_the_pool_arithmetic_reads_each_services_pool() -> None:
    report = manifests.Report("prod")
    resources = [
        r
        for r in yaml.safe_load_all(
            subprocess.run(
                [_kustomize(), "build", str(ROOT / "k8s" / "overlays" / "prod")],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        if r
    ]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        by_kind.setdefault(resource["kind"], []).append(resource)
    assert manifests.database_pools(report, by_kind) == {
        "gateway": 10 * 30,
        "auth-service": 10 * 10,
        "persistence-worker": 3 * 12,
    }


def test_a_migration_job_argo_cd_cannot_order_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    job = _find(broken, "Job", "chat-migrate")
    del job["spec"]["ttlSecondsAfterFinished"]
    del job["metadata"]["annotations"]["argocd.argoproj.io/hook"]
    del _find(broken, "Deployment", "auth-service")["metadata"]["annotations"]
    errors = _errors(broken, tmp_path)
    assert any("Job/chat-migrate: no ttlSecondsAfterFinished" in e for e in errors)
    assert any("Job/chat-migrate: not an Argo CD PreSync or Sync hook" in e for e in errors)
    assert any(
        "Deployment/auth-service: Argo CD sync-wave 0 is not after the migration Job's 1" in e
        for e in errors
    )


def test_custom_resources_are_sorted_to_their_validators(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    _errors(prod, tmp_path)
    kinds = {r["kind"] for r in yaml.safe_load_all((tmp_path / "crds.yaml").read_text())}
    assert kinds == {
        "Cluster",
        "Pooler",
        "ScheduledBackup",
        "ServiceMonitor",
        "PodMonitor",
        "PrometheusRule",
    }
    assert "Kafka" in (tmp_path / "strimzi.json").read_text()
    builtin = {r["kind"] for r in yaml.safe_load_all((tmp_path / "builtin.yaml").read_text())}
    assert not builtin & {"Kafka", "Cluster", "ServiceMonitor"}


def test_crd_schemas_refuse_unknown_fields_where_the_crd_does() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"port": {"x-kubernetes-int-or-string": True}},
            },
            "config": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"a": {"type": "string"}},
            },
        },
    }
    converted = crd_schemas.strict(schema)
    assert converted["additionalProperties"] is False
    assert converted["properties"]["spec"]["additionalProperties"] is False
    assert "additionalProperties" not in converted["properties"]["config"]
    assert converted["properties"]["spec"]["properties"]["port"]["anyOf"] == [
        {"type": "integer"},
        {"type": "string"},
    ]


@pytest.fixture
def image_tree(tmp_path: Path) -> Path:
    """A copy of what the Dockerfile check reads: the images, the workspace's pyprojects."""
    shutil.copytree(ROOT / "deploy" / "docker", tmp_path / "deploy" / "docker")
    shutil.copy(ROOT / ".dockerignore", tmp_path / ".dockerignore")
    for pyproject in ROOT.glob("services/*/pyproject.toml"):
        target = tmp_path / pyproject.relative_to(ROOT)
        target.parent.mkdir(parents=True)
        shutil.copy(pyproject, target)
    return tmp_path


def _dockerfile_errors(root: Path, name: str) -> list[str]:
    members = dockerfiles.workspace(root)
    path = root / "deploy" / "docker" / f"{name}.Dockerfile"
    errors: list[str] = dockerfiles.check_dockerfile(root, path, members)
    return errors


def _edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / "deploy" / "docker" / f"{name}.Dockerfile"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_the_dockerfiles_pass(image_tree: Path) -> None:
    for name in ("gateway", "auth-service", "persistence-worker", "migrations", "web"):
        assert _dockerfile_errors(image_tree, name) == []
    assert dockerfiles.check_dockerignore(image_tree) == []


def test_a_root_image_or_a_moving_base_is_refused(image_tree: Path) -> None:
    _edit(image_tree, "gateway", "USER 10001:10001", "USER root")
    _edit(image_tree, "web", "FROM nginx:1.28.0-alpine", "FROM nginx:stable-alpine")
    assert any("runs as root" in e for e in _dockerfile_errors(image_tree, "gateway"))
    assert any("not pinned" in e for e in _dockerfile_errors(image_tree, "web"))


def test_an_image_with_another_services_code_or_an_unlocked_sync_is_refused(
    image_tree: Path,
) -> None:
    _edit(
        image_tree,
        "persistence-worker",
        "COPY services/persistence-worker/ services/persistence-worker/",
        "COPY services/persistence-worker/ services/persistence-worker/\n"
        "COPY services/gateway/ services/gateway/",
    )
    _edit(image_tree, "auth-service", "uv sync --locked --package", "uv sync --package")
    assert any(
        "copies services/gateway" in e for e in _dockerfile_errors(image_tree, "persistence-worker")
    )
    assert any("without --locked" in e for e in _dockerfile_errors(image_tree, "auth-service"))


def test_a_secret_baked_into_an_image_is_refused(image_tree: Path) -> None:
    _edit(image_tree, "migrations", "ENV PATH=", "ENV CHAT_DATABASE_PASSWORD=chat PATH=")
    assert any("bakes a secret" in e for e in _dockerfile_errors(image_tree, "migrations"))


def test_every_metric_the_dashboard_names_is_exported() -> None:
    known = metric_names.exported(ROOT)
    assert {"chat_gateway_connections", "chat_worker_consumer_lag", "chat_auth_logins"} <= known
    for where, names in metric_names.references(ROOT).items():
        unknown = {n for n in names if n not in known and metric_names.base_name(n) not in known}
        assert not unknown, f"{where}: {unknown}"
