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


def _build(overlay: str) -> list[dict[str, Any]]:
    built = subprocess.run(
        [_kustomize(), "build", str(ROOT / "k8s" / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [r for r in yaml.safe_load_all(built) if r]


@pytest.fixture(scope="module")
def prod() -> list[dict[str, Any]]:
    return _build("prod")


@pytest.fixture(scope="module")
def dev() -> list[dict[str, Any]]:
    return _build("dev")


def _errors(
    resources: list[dict[str, Any]],
    tmp_path: Path,
    redis_url: str | None = None,
    overlay: str = "prod",
) -> list[str]:
    """Every check of manifests.py on ``resources`` as ``overlay``; the Redis URL is the one
    docs/operations.md documents unless given."""
    built = tmp_path / "all.yaml"
    built.write_text(yaml.safe_dump_all(resources))
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        by_kind.setdefault(resource["kind"], []).append(resource)
    report = manifests.Report(overlay)
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
    manifests.check_redis_flows(report, by_kind)
    manifests.check_stateful_sets(report, by_kind)
    manifests.check_redis_url(report, by_kind, redis_url)
    manifests.check_secret_references(report, by_kind)
    manifests.check_object_store(report, by_kind)
    manifests.check_ingress(report, by_kind, 20.0)
    errors: list[str] = report.errors
    return errors


def _find(resources: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for resource in resources:
        if resource["kind"] == kind and resource["metadata"]["name"].startswith(name):
            return resource
    raise AssertionError(f"no {kind}/{name}")


def _named(resources: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The resource of exactly that name: ``redis`` is a prefix of ``redis-sentinel``."""
    for resource in resources:
        if resource["kind"] == kind and resource["metadata"]["name"] == name:
            return resource
    raise AssertionError(f"no {kind}/{name}")


def test_the_prod_overlay_passes(prod: list[dict[str, Any]], tmp_path: Path) -> None:
    assert _errors(prod, tmp_path) == []


def test_the_dev_overlay_passes(dev: list[dict[str, Any]], tmp_path: Path) -> None:
    assert _errors(dev, tmp_path, overlay="dev") == []


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
    # 40 gateways of 10 connections: 400 + auth-service 100 + persistence-worker 36 = 536, and
    # the media worker's pool.
    broken = copy.deepcopy(prod)
    _find(broken, "HorizontalPodAutoscaler", "gateway")["spec"]["maxReplicas"] = 40
    _find(broken, "Cluster", "chat-postgres")["spec"]["postgresql"]["parameters"][
        "max_connections"
    ] = "300"
    errors = _errors(broken, tmp_path)
    assert any(
        "Pooler/chat-postgres-pooler: one instance opens at most 450 connections < 5" in e
        and "(auth-service 100 + gateway 400 + media-worker " in e
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
    pools = manifests.database_pools(report, by_kind)
    assert report.errors == []
    assert {name: pools[name] for name in ("gateway", "auth-service", "persistence-worker")} == {
        "gateway": 10 * 30,
        "auth-service": 10 * 10,
        "persistence-worker": 3 * 12,
    }
    # Its pool at the HPA's maximum of 12, whatever its size.
    assert pools["media-worker"] % 12 == 0


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


# The Redis group of prod (k8s/components/redis-sentinel): who reaches it.


def _peers(policy: dict[str, Any], direction: str, index: int) -> list[dict[str, Any]]:
    peers: list[dict[str, Any]] = policy["spec"][direction][index][
        "from" if direction == "ingress" else "to"
    ]
    return peers


def _allowed_names(policy: dict[str, Any]) -> list[str]:
    """The app names the policy's first ingress rule admits (gateway, auth-service)."""
    values: list[str] = _peers(policy, "ingress", 0)[0]["podSelector"]["matchExpressions"][0][
        "values"
    ]
    return values


def _egress_rule(backend: str, port: int) -> dict[str, Any]:
    return {
        "to": [{"podSelector": {"matchLabels": {"chat-backend": backend}}}],
        "ports": [{"port": port, "protocol": "TCP"}],
    }


def _without_egress_to(policy: dict[str, Any], backend: str) -> None:
    rules = policy["spec"]["egress"]
    kept = [
        rule
        for rule in rules
        if not any(
            peer.get("podSelector", {}).get("matchLabels") == {"chat-backend": backend}
            for peer in rule["to"]
        )
    ]
    assert len(kept) == len(rules) - 1
    policy["spec"]["egress"] = kept


def _flow(source: str, target: str, port: int, verdict: str) -> str:
    return f"NetworkPolicy ({source} -> {target}:{port}): must be {verdict}"


def test_pods_that_are_no_redis_clients_reaching_redis_are_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    # The worker and the web app let through both ends: their own egress, the group's ingress.
    _allowed_names(_named(broken, "NetworkPolicy", "redis")).append("persistence-worker")
    _named(broken, "NetworkPolicy", "persistence-worker")["spec"]["egress"].append(
        _egress_rule("redis", 6379)
    )
    _allowed_names(_named(broken, "NetworkPolicy", "redis-sentinel")).append("web")
    web = _named(broken, "NetworkPolicy", "web")["spec"]
    web["policyTypes"].append("Egress")
    web["egress"] = [_egress_rule("redis-sentinel", 26379)]
    errors = _errors(broken, tmp_path)
    assert _flow("chat/persistence-worker", "redis", 6379, "denied") in "\n".join(errors), errors
    assert _flow("chat/web", "redis-sentinel", 26379, "denied") in "\n".join(errors), errors


def test_the_migration_job_reaching_redis_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    _allowed_names(_named(broken, "NetworkPolicy", "redis")).append("migrations")
    _named(broken, "NetworkPolicy", "migrations")["spec"]["egress"].append(
        _egress_rule("redis", 6379)
    )
    errors = _errors(broken, tmp_path)
    assert any(_flow("chat/chat-migrate", "redis", 6379, "denied") in e for e in errors), errors


def test_redis_open_to_every_pod_of_the_namespace_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    _named(broken, "NetworkPolicy", "redis")["spec"]["ingress"][0]["from"] = [{"podSelector": {}}]
    errors = _errors(broken, tmp_path)
    assert any(_flow("chat/intruder", "redis", 6379, "denied") in e for e in errors), errors


def test_services_cut_off_from_redis_or_its_sentinels_are_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    _without_egress_to(_named(broken, "NetworkPolicy", "gateway"), "redis-sentinel")
    _allowed_names(_named(broken, "NetworkPolicy", "redis")).remove("auth-service")
    errors = _errors(broken, tmp_path)
    assert any(_flow("chat/gateway", "redis-sentinel", 26379, "allowed") in e for e in errors)
    assert any(_flow("chat/auth-service", "redis", 6379, "allowed") in e for e in errors)


def test_a_redis_group_whose_members_cannot_reach_each_other_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    # Sentinels that cannot watch the nodes; nodes that cannot ask the Sentinels for the primary.
    _without_egress_to(_named(broken, "NetworkPolicy", "redis-sentinel"), "redis")
    _without_egress_to(_named(broken, "NetworkPolicy", "redis"), "redis-sentinel")
    errors = _errors(broken, tmp_path)
    assert any(_flow("chat/redis-sentinel", "redis", 6379, "allowed") in e for e in errors)
    assert any(_flow("chat/redis", "redis-sentinel", 26379, "allowed") in e for e in errors)


def test_exporters_prometheus_cannot_scrape_are_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    ingress = _named(broken, "NetworkPolicy", "redis-sentinel")["spec"]["ingress"]
    ingress[:] = [rule for rule in ingress if rule["ports"][0]["port"] != 9121]
    errors = _errors(broken, tmp_path)
    assert any(
        _flow("monitoring/prometheus", "redis-sentinel", 9121, "allowed") in e for e in errors
    ), errors


def test_redis_pods_without_their_backend_label_are_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    del _named(broken, "StatefulSet", "redis")["spec"]["template"]["metadata"]["labels"][
        "chat-backend"
    ]
    errors = _errors(broken, tmp_path)
    assert any("no Redis pods (label chat-backend: redis)" in e for e in errors), errors


# prod's StatefulSets: the Redis nodes and the Sentinels.


def test_a_stateful_set_whose_data_dies_with_its_pods_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    del _named(broken, "StatefulSet", "redis-sentinel")["spec"]["volumeClaimTemplates"]
    # A claim no container mounts: the append-only file would go to the root filesystem.
    claim = _named(broken, "StatefulSet", "redis")["spec"]["volumeClaimTemplates"][0]
    claim["metadata"]["name"] = "aof"
    errors = _errors(broken, tmp_path)
    assert any("StatefulSet/redis-sentinel: no volumeClaimTemplates" in e for e in errors)
    assert any(
        "StatefulSet/redis: volumeClaimTemplate aof is mounted by no container" in e for e in errors
    ), errors


def test_a_stateful_set_without_a_one_at_a_time_budget_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = [
        r
        for r in copy.deepcopy(prod)
        if r["kind"] != "PodDisruptionBudget" or r["metadata"]["name"] != "redis"
    ]
    _named(broken, "PodDisruptionBudget", "redis-sentinel")["spec"]["maxUnavailable"] = 2
    errors = _errors(broken, tmp_path)
    assert any("StatefulSet/redis: no PodDisruptionBudget" in e for e in errors), errors
    assert any(
        "PodDisruptionBudget/redis-sentinel: maxUnavailable is not 1 for"
        " StatefulSet/redis-sentinel" in e
        for e in errors
    ), errors


def test_a_stateful_set_of_two_pods_is_refused(prod: list[dict[str, Any]], tmp_path: Path) -> None:
    broken = copy.deepcopy(prod)
    _named(broken, "StatefulSet", "redis")["spec"]["replicas"] = 2
    errors = _errors(broken, tmp_path)
    assert any("StatefulSet/redis: fewer than 3 replicas" in e for e in errors), errors


def test_a_stateful_set_whose_pods_may_share_a_node_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    del _named(broken, "StatefulSet", "redis-sentinel")["spec"]["template"]["spec"]["affinity"]
    # Kept apart from the Sentinels, not from each other: two nodes may still share a node.
    redis = _named(broken, "StatefulSet", "redis")["spec"]["template"]["spec"]
    term = redis["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    term["labelSelector"]["matchLabels"] = {"app.kubernetes.io/name": "redis-sentinel"}
    errors = _errors(broken, tmp_path)
    for name in ("redis", "redis-sentinel"):
        assert any(f"StatefulSet/{name}: two of its pods may share a node" in e for e in errors), (
            errors
        )


def test_a_stateful_set_not_spread_over_zones_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    spread = _named(broken, "StatefulSet", "redis-sentinel")["spec"]["template"]["spec"][
        "topologySpreadConstraints"
    ]
    spread[0]["topologyKey"] = "kubernetes.io/hostname"
    errors = _errors(broken, tmp_path)
    assert any("StatefulSet/redis-sentinel: not spread over zones" in e for e in errors), errors


# The chat-redis URL that docs/operations.md has the operator make.

DOCUMENTED_REDIS_URL = (
    "redis+sentinel://:secret@redis-sentinel-0.redis-sentinel:26379,"
    "redis-sentinel-1.redis-sentinel:26379,redis-sentinel-2.redis-sentinel:26379/chat?replicas=1"
)


def _url_errors(prod: list[dict[str, Any]], tmp_path: Path, old: str, new: str) -> list[str]:
    """The errors for the documented URL with ``old`` replaced by ``new``."""
    assert old in DOCUMENTED_REDIS_URL
    return _errors(prod, tmp_path, DOCUMENTED_REDIS_URL.replace(old, new))


def test_the_redis_url_is_read_from_the_deploy_section_of_the_operations_page() -> None:
    assert manifests.documented_redis_url() == DOCUMENTED_REDIS_URL


def test_an_operations_page_without_the_redis_secret_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    document = tmp_path / "operations.md"
    text = manifests.OPERATIONS_DOC.read_text()
    document.write_text(
        text.replace("create secret generic chat-redis", "create secret chat-redis")
    )
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for resource in prod:
        by_kind.setdefault(resource["kind"], []).append(resource)
    report = manifests.Report("prod")
    manifests.check_redis_url(report, by_kind, document=document)
    assert report.errors == [
        "prod: Secret chat-redis (docs/operations.md, Deploy):"
        " no `kubectl -n chat create secret generic chat-redis`"
    ]


def test_the_sentinels_named_with_their_namespace_pass(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    url = DOCUMENTED_REDIS_URL.replace(
        ".redis-sentinel:", ".redis-sentinel.chat.svc.cluster.local:"
    )
    assert _errors(prod, tmp_path, url) == []


def test_a_redis_url_that_bypasses_the_sentinels_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    errors = _errors(prod, tmp_path, "redis://:secret@redis-0.redis:6379/0")
    assert any("url is not redis+sentinel://: redis://" in e for e in errors), errors


def test_a_redis_url_without_the_primary_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    errors = _url_errors(prod, tmp_path, "/chat?", "?")
    assert any("the path must be /<master name>[/<db>]" in e for e in errors), errors


def test_a_redis_url_naming_two_sentinels_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    errors = _url_errors(prod, tmp_path, ",redis-sentinel-2.redis-sentinel:26379", "")
    pods = [f"'redis-sentinel-{i}.redis-sentinel'" for i in range(3)]
    assert any(
        f"names the Sentinels [{', '.join(pods[:2])}], the manifests run [{', '.join(pods)}]" in e
        for e in errors
    ), errors


def test_a_redis_url_naming_sentinels_of_another_namespace_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    errors = _url_errors(
        prod, tmp_path, "-2.redis-sentinel:", "-2.redis-sentinel.staging.svc.cluster.local:"
    )
    assert any(
        "names the Sentinels" in e and "redis-sentinel-2.redis-sentinel.staging.svc" in e
        for e in errors
    ), errors


def test_a_redis_url_with_sentinels_on_other_ports_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    errors = _errors(prod, tmp_path, DOCUMENTED_REDIS_URL.replace(":26379", ":26380"))
    assert any("no one StatefulSet listens on 26380" in e for e in errors), errors
    errors = _url_errors(prod, tmp_path, "-2.redis-sentinel:26379", "-2.redis-sentinel:26380")
    assert any("Sentinels on several ports [26379, 26380]" in e for e in errors), errors


def test_a_redis_url_naming_another_primary_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    errors = _url_errors(prod, tmp_path, "/chat?", "/mymaster?")
    assert any("names the primary 'mymaster'; the Sentinels watch 'chat'" in e for e in errors), (
        errors
    )


def test_a_redis_url_waiting_for_every_replica_or_none_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    # Two replicas: waiting for both stops sends when one is lost; for none, a failover may
    # promote a replica without the last numbered writes.
    for replicas in (2, 0):
        errors = _url_errors(prod, tmp_path, "replicas=1", f"replicas={replicas}")
        assert any(f"?replicas={replicas} with 2 replicas: must be" in e for e in errors), errors


def _sentinel_env(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    container = _named(resources, "StatefulSet", "redis-sentinel")["spec"]["template"]["spec"][
        "containers"
    ][0]
    return {variable["name"]: variable for variable in container["env"]}


def test_a_sentinel_quorum_that_is_no_surviving_majority_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    # 1: one Sentinel cut off alone may start a failover; 3: losing one Sentinel stops them.
    for quorum in ("1", "3"):
        broken = copy.deepcopy(prod)
        _sentinel_env(broken)["QUORUM"]["value"] = quorum
        errors = _errors(broken, tmp_path)
        assert any(
            f"StatefulSet/redis-sentinel: quorum {quorum} of 3 Sentinels: not a majority" in e
            for e in errors
        ), errors


def test_sentinels_watching_no_redis_stateful_set_are_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    _sentinel_env(broken)["REDIS_SERVICE"]["value"] = "redis-primary"
    errors = _errors(broken, tmp_path)
    assert any(
        "StatefulSet/redis-sentinel: its REDIS_SERVICE is no StatefulSet" in e for e in errors
    ), errors


# The attachments: the object store's settings and Secrets, its route, and /internal/.


def _env(resources: list[dict[str, Any]], deployment: str) -> list[dict[str, Any]]:
    container = _named(resources, "Deployment", deployment)["spec"]["template"]["spec"][
        "containers"
    ][0]
    env: list[dict[str, Any]] = container["env"]
    return env


def _variable(resources: list[dict[str, Any]], deployment: str, name: str) -> dict[str, Any]:
    for variable in _env(resources, deployment):
        if variable["name"] == name:
            return variable
    raise AssertionError(f"Deployment/{deployment} has no {name}")


def _without_variable(resources: list[dict[str, Any]], deployment: str, name: str) -> None:
    env = _env(resources, deployment)
    env[:] = [variable for variable in env if variable["name"] != name]


def test_a_client_of_the_store_without_a_setting_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    del _find(broken, "ConfigMap", "object-store-config")["data"]["CHAT_OBJECT_STORE_BUCKET"]
    _without_variable(broken, "media-worker", "CHAT_OBJECT_STORE_SECRET_ACCESS_KEY")
    errors = _errors(broken, tmp_path)
    for deployment in ("gateway", "media-worker"):
        assert f"prod: Deployment/{deployment}: no CHAT_OBJECT_STORE_BUCKET" in errors, errors
    assert "prod: Deployment/media-worker: no CHAT_OBJECT_STORE_SECRET_ACCESS_KEY" in errors
    assert any(
        e.startswith("prod: Deployment/media-worker: invalid configuration")
        and e.endswith("CHAT_OBJECT_STORE_SECRET_ACCESS_KEY is required")
        for e in errors
    ), errors


def test_an_unknown_object_store_setting_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    _find(broken, "ConfigMap", "object-store-config")["data"]["CHAT_OBJECT_STORE_BUCKETS"] = "a"
    errors = _errors(broken, tmp_path)
    assert (
        "prod: Deployment/gateway: CHAT_OBJECT_STORE_BUCKETS is no setting of the object store"
        in errors
    ), errors


def test_a_store_key_outside_a_secret_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    variable = _variable(broken, "gateway", "CHAT_OBJECT_STORE_SECRET_ACCESS_KEY")
    del variable["valueFrom"]
    variable["value"] = "written-into-the-manifest"
    errors = _errors(broken, tmp_path)
    assert (
        "prod: Deployment/gateway: CHAT_OBJECT_STORE_SECRET_ACCESS_KEY is not read from a Secret"
        in errors
    ), errors
    assert (
        "prod: Deployment/media-worker: its object store key pair is not the Secret keys the"
        " gateways read" in errors
    ), errors


def test_a_media_worker_on_another_store_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    _env(broken, "media-worker").append({"name": "CHAT_OBJECT_STORE_BUCKET", "value": "other"})
    errors = _errors(broken, tmp_path)
    assert (
        "prod: Deployment/media-worker: its object store settings differ from the gateways'"
        in errors
    ), errors


def test_an_internal_token_missing_or_from_another_secret_key_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    selector = _variable(broken, "media-worker", "CHAT_MEDIA_INTERNAL_TOKEN")["valueFrom"]
    selector["secretKeyRef"] = {"name": "chat-redis", "key": "password"}
    errors = _errors(broken, tmp_path)
    assert any(
        e.startswith(
            "prod: Deployment/media-worker: CHAT_MEDIA_INTERNAL_TOKEN ('chat-redis', 'password')"
            " is not the Secret key the gateways' CHAT_GATEWAY_INTERNAL_TOKEN comes from"
        )
        for e in errors
    ), errors
    _without_variable(broken, "gateway", "CHAT_GATEWAY_INTERNAL_TOKEN")
    errors = _errors(broken, tmp_path)
    assert (
        "prod: Deployment/gateway: CHAT_GATEWAY_INTERNAL_TOKEN is not read from a Secret" in errors
    ), errors


def test_a_media_worker_calling_the_gateways_elsewhere_than_their_service_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    # Through the site: the Ingress publishes no /internal/ route, so every call would fail.
    for url in ("https://chat.example.com", "http://gateway:8111", "http://auth-service:8200"):
        broken = copy.deepcopy(prod)
        _find(broken, "ConfigMap", "media-config")["data"]["CHAT_MEDIA_GATEWAY_URL"] = url
        errors = _errors(broken, tmp_path)
        assert (
            f"prod: Deployment/media-worker: CHAT_MEDIA_GATEWAY_URL {url!r} is not the gateway"
            " Service's HTTP port (8101)" in errors
        ), errors


def test_the_documented_secrets_are_read_with_their_keys() -> None:
    made = manifests.documented_secrets("chat")
    assert made["chat-object-store"] == {"access_key_id", "secret_access_key"}
    assert made["chat-internal-token"] == {"token"}
    assert made["chat-redis"] == {"password", "url"}
    assert made["auth-signing-keys"] == {"signing.pem", "previous.pem"}
    assert manifests.documented_secrets("chat-dev")["chat-tls"] == {"tls.crt", "tls.key"}


def test_a_secret_key_no_secret_has_is_refused(
    prod: list[dict[str, Any]], dev: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    selector = _variable(broken, "gateway", "CHAT_GATEWAY_INTERNAL_TOKEN")["valueFrom"]
    selector["secretKeyRef"]["key"] = "value"
    _variable(broken, "media-worker", "DATABASE_USER")["valueFrom"]["secretKeyRef"]["key"] = "name"
    errors = _errors(broken, tmp_path)
    assert (
        "prod: Deployment/gateway container gateway CHAT_GATEWAY_INTERNAL_TOKEN: Secret"
        " chat-internal-token has no key value (it has token)" in errors
    ), errors
    assert any(
        e.startswith(
            "prod: Deployment/media-worker container media-worker DATABASE_USER: Secret"
            " chat-postgres-app has no key name (it has dbname, "
        )
        for e in errors
    ), errors
    # dev makes its Secrets in the kustomization: without one, nothing makes it.
    broken = [r for r in copy.deepcopy(dev) if not r["metadata"]["name"].startswith("chat-object")]
    errors = _errors(broken, tmp_path, overlay="dev")
    assert any(
        e.startswith(
            "dev: Deployment/gateway container gateway CHAT_OBJECT_STORE_ACCESS_KEY_ID: Secret"
            " chat-object-store-"
        )
        and e.endswith(
            " is neither in the manifests nor made in namespace chat-dev by docs/operations.md"
        )
        for e in errors
    ), errors


def test_an_operations_page_without_a_secret_the_pods_read_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    document = tmp_path / "operations.md"
    text = manifests.OPERATIONS_DOC.read_text()
    document.write_text(text.replace("secret generic chat-internal-token", "secret generic x"))
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for resource in prod:
        by_kind.setdefault(resource["kind"], []).append(resource)
    report = manifests.Report("prod")
    manifests.check_secret_references(report, by_kind, document)
    assert sorted(report.errors) == [
        f"prod: Deployment/{name} container {name} {variable}: Secret chat-internal-token is"
        " neither in the manifests nor made in namespace chat by docs/operations.md"
        for name, variable in (
            ("gateway", "CHAT_GATEWAY_INTERNAL_TOKEN"),
            ("media-worker", "CHAT_MEDIA_INTERNAL_TOKEN"),
        )
    ]


@pytest.mark.parametrize("overlay", ["prod", "dev"])
def test_an_ingress_route_to_the_internal_routes_is_refused(
    prod: list[dict[str, Any]], dev: list[dict[str, Any]], tmp_path: Path, overlay: str
) -> None:
    broken = copy.deepcopy(prod if overlay == "prod" else dev)
    gateway = _find(broken, "Ingress", "chat-gateway")
    host = gateway["spec"]["rules"][0]["host"]
    paths = gateway["spec"]["rules"][0]["http"]["paths"]
    paths.append({**paths[1], "path": "/internal/", "pathType": "Prefix"})
    errors = _errors(broken, tmp_path, overlay=overlay)
    assert (
        f"{overlay}: Ingress/chat-gateway: {host}/internal/v1/rooms/general/messages/0/attachments"
        " reaches gateway's /internal/v1/rooms/general/messages/0/attachments, which is for the"
        " cluster only" in errors
    ), errors


def test_a_prefix_stripping_route_that_reaches_the_internal_routes_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    gateway = _find(broken, "Ingress", "chat-gateway")
    paths = gateway["spec"]["rules"][0]["http"]["paths"]
    gateway["metadata"]["annotations"]["nginx.ingress.kubernetes.io/rewrite-target"] = "/$1"
    paths[1] = {**paths[1], "path": "/v1/(.*)", "pathType": "ImplementationSpecific"}
    errors = _errors(broken, tmp_path)
    assert any(
        "chat.example.com/v1/internal/v1/rooms/general/messages/0/attachments reaches gateway's"
        " /internal/v1/rooms/general/messages/0/attachments" in e
        for e in errors
    ), errors


def _attachments(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return _named(resources, "Ingress", "chat-attachments")


def test_an_attachment_path_without_the_sandbox_headers_is_refused(
    dev: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(dev)
    del _attachments(broken)["metadata"]["annotations"][manifests.CUSTOM_HEADERS]
    errors = _errors(broken, tmp_path, overlay="dev")
    assert (
        "dev: Ingress/chat-attachments: nginx.ingress.kubernetes.io/custom-headers '' names no"
        " ConfigMap chat-dev/<name> of the manifests: the attachment path would carry no"
        " sandbox Content-Security-Policy" in errors
    ), errors


def test_an_attachment_path_whose_policy_does_not_sandbox_is_refused(
    dev: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(dev)
    headers = _named(broken, "ConfigMap", "chat-attachment-headers")["data"]
    headers["Content-Security-Policy"] = "default-src 'none'"
    del headers["X-Content-Type-Options"]
    errors = _errors(broken, tmp_path, overlay="dev")
    assert (
        "dev: Ingress/chat-attachments: the attachment path's Content-Security-Policy is not"
        " `sandbox; default-src 'none'`" in errors
    ), errors
    assert (
        "dev: Ingress/chat-attachments: sends X-Content-Type-Options None, not the balancer's"
        " 'nosniff' (attachment-headers.conf)" in errors
    ), errors


def test_an_ingress_that_sends_other_headers_than_the_balancer_is_refused(
    dev: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The balancer's file is what both are held to: a header changed there alone is found."""
    headers = tmp_path / "attachment-headers.conf"
    text = manifests.ATTACHMENT_HEADERS.read_text()
    headers.write_text(text.replace('"private, no-store"', '"no-store"'))
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for resource in dev:
        by_kind.setdefault(resource["kind"], []).append(resource)
    report = manifests.Report("dev")
    config_maps = {r["metadata"]["name"]: r for r in by_kind["ConfigMap"]}
    env = manifests.environment(_named(dev, "Deployment", "gateway"), config_maps)
    settings = manifests.load_settings(
        manifests.ObjectStoreSettings, manifests.OBJECT_STORE_PREFIX, env
    )
    manifests.check_attachment_route(report, by_kind, settings, headers=headers)
    assert report.errors == [
        "dev: Ingress/chat-attachments: sends Cache-Control 'private, no-store', not the"
        " balancer's 'no-store' (attachment-headers.conf)"
    ]


def test_an_attachment_route_off_the_public_endpoints_path_is_refused(
    dev: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(dev)
    _attachments(broken)["spec"]["rules"][0]["http"]["paths"][0]["path"] = "/files/"
    errors = _errors(broken, tmp_path, overlay="dev")
    assert (
        "dev: Ingress: chat.localhost/chat-attachments/originals/00000000-0000-4000-8000-"
        "000000000000 reaches Service web, not the object store's Service object-store (the"
        " Ingress path must be the public endpoint's /chat-attachments/)" in errors
    ), errors


def test_a_public_endpoint_with_a_path_or_virtual_hosted_at_the_site_is_refused(
    dev: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(dev)
    data = _find(broken, "ConfigMap", "object-store-config")["data"]
    data["CHAT_OBJECT_STORE_PUBLIC_ENDPOINT_URL"] = "https://chat.localhost/files"
    errors = _errors(broken, tmp_path, overlay="dev")
    assert any(
        e.startswith(
            "dev: CHAT_OBJECT_STORE_PUBLIC_ENDPOINT_URL https://chat.localhost: has a path"
        )
        for e in errors
    ), errors
    data["CHAT_OBJECT_STORE_PUBLIC_ENDPOINT_URL"] = "https://localhost"
    data["CHAT_OBJECT_STORE_PATH_STYLE"] = "false"
    # The bucket's own name under the site: chat-attachments.localhost, no site of this overlay.
    errors = _errors(broken, tmp_path, overlay="dev")
    assert any(
        "Deployment/web: the app's Content-Security-Policy does not allow the object store's"
        " origin https://chat-attachments.localhost" in e
        for e in errors
    ), errors


def test_an_attachment_route_that_rewrites_or_buffers_is_refused(
    dev: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(dev)
    annotations = _attachments(broken)["metadata"]["annotations"]
    annotations["nginx.ingress.kubernetes.io/rewrite-target"] = "/chat-attachments/$1"
    annotations["nginx.ingress.kubernetes.io/proxy-body-size"] = "64k"
    del annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"]
    _attachments(broken)["spec"]["rules"][0]["http"]["paths"][0]["path"] = "/chat-attachments/(.*)"
    errors = _errors(broken, tmp_path, overlay="dev")
    key = "originals/00000000-0000-4000-8000-000000000000"
    assert any(
        e.startswith(
            f"dev: Ingress/chat-attachments: rewrites /chat-attachments/{key} to"
            f" /chat-attachments/{key}"
        )
        for e in errors
    ) or any("routes /chat-attachments/(.*), not the public endpoint's path" in e for e in errors)
    assert (
        "dev: Ingress/chat-attachments: proxy-body-size 64k is not the upload limit of the"
        " balancer (25m)" in errors
    ), errors
    assert (
        "dev: Ingress/chat-attachments: buffers uploads (proxy-request-buffering is not off)"
        in errors
    ), errors


def test_the_balancers_upload_limit_is_read_from_its_location() -> None:
    assert manifests.balancer_body_limit() == "25m"
    assert manifests.attachment_headers()["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in manifests.attachment_headers()


def test_a_store_origin_the_apps_policy_does_not_allow_is_refused(
    prod: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(prod)
    data = _find(broken, "ConfigMap", "object-store-config")["data"]
    data["CHAT_OBJECT_STORE_BUCKET"] = "another-bucket"
    errors = _errors(broken, tmp_path)
    assert (
        "prod: Deployment/web: the app's Content-Security-Policy does not allow the object"
        " store's origin https://another-bucket.s3.eu-west-1.amazonaws.com: no"
        " /etc/nginx/attachment-origin.conf naming it (it names"
        " ['https://chat-example-attachments.s3.eu-west-1.amazonaws.com'])" in errors
    ), errors
    web = _named(broken, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]
    web["volumeMounts"] = [m for m in web["volumeMounts"] if "attachment" not in m["name"]]
    errors = _errors(broken, tmp_path)
    assert any(
        e.endswith("no /etc/nginx/attachment-origin.conf naming it (it names [])") for e in errors
    )


def test_clients_cut_off_from_the_store_or_the_gateways_are_refused(
    prod: list[dict[str, Any]], dev: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = [r for r in copy.deepcopy(dev) if r["metadata"]["name"] != "object-store-clients"]
    ingress = _named(broken, "NetworkPolicy", "gateway")["spec"]["ingress"]
    ingress[:] = [rule for rule in ingress if "podSelector" not in rule["from"][0]]
    errors = _errors(broken, tmp_path, overlay="dev")
    for client in ("gateway", "media-worker"):
        assert _flow(f"chat-dev/{client}", "seaweedfs", 8333, "allowed") in "\n".join(errors)
    assert _flow("chat-dev/media-worker", "gateway", 8101, "allowed") in "\n".join(errors)
    broken = [r for r in copy.deepcopy(prod) if r["metadata"]["name"] != "object-store-clients"]
    errors = _errors(broken, tmp_path)
    assert _flow("chat/gateway", "object-store", 443, "allowed") in "\n".join(errors), errors


def test_pods_that_are_no_clients_of_the_store_reaching_it_are_refused(
    dev: list[dict[str, Any]], tmp_path: Path
) -> None:
    broken = copy.deepcopy(dev)
    server = _named(broken, "NetworkPolicy", "object-store-server")["spec"]["ingress"][0]
    server["from"][0]["podSelector"]["matchExpressions"][0]["values"].append("persistence-worker")
    clients = _named(broken, "NetworkPolicy", "object-store-clients")["spec"]["podSelector"]
    clients["matchExpressions"][0]["values"].append("persistence-worker")
    errors = _errors(broken, tmp_path, overlay="dev")
    assert _flow("chat-dev/persistence-worker", "seaweedfs", 8333, "denied") in "\n".join(errors)
    # The media worker has no business with Redis either.
    _allowed_names(_named(broken, "NetworkPolicy", "redis")).append("media-worker")
    _named(broken, "NetworkPolicy", "media-worker")["spec"]["egress"].append(
        _egress_rule("redis", 6379)
    )
    errors = _errors(broken, tmp_path, overlay="dev")
    assert _flow("chat-dev/media-worker", "redis", 6379, "denied") in "\n".join(errors), errors


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
    for name in (
        "gateway",
        "auth-service",
        "persistence-worker",
        "media-worker",
        "migrations",
        "web",
    ):
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


@pytest.fixture
def metrics_tree(tmp_path: Path) -> Path:
    """A copy of what the metric check reads: the manifests, the services' metrics modules."""
    shutil.copytree(ROOT / "k8s", tmp_path / "k8s")
    for module in ROOT.glob("services/*/src/*/metrics.py"):
        target = tmp_path / module.relative_to(ROOT)
        target.parent.mkdir(parents=True)
        shutil.copy(module, target)
    return tmp_path


def _metric_errors(root: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    status = metric_names.main(["metric_names.py", str(root)])
    errors = capsys.readouterr().err.splitlines()
    assert (status == 0) == (errors == [])
    return errors


def _replace(root: Path, path: str, old: str, new: str) -> None:
    file = root / path
    text = file.read_text()
    assert old in text
    file.write_text(text.replace(old, new))


def test_every_redis_metric_is_one_the_exporter_exports(
    metrics_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    redis = metric_names.references(metrics_tree, metric_names.REDIS_REFERENCED)
    assert "redis_master_link_up" in redis["k8s/components/monitoring/alerts.yaml"]
    assert (
        "redis_sentinel_master_status" in redis["k8s/components/monitoring/grafana-dashboard.json"]
    )
    assert _metric_errors(metrics_tree, capsys) == []


def test_a_redis_metric_the_exporter_does_not_export_is_refused(
    metrics_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Names redis_exporter does not have: Redis's INFO field, and a plausible guess.
    _replace(
        metrics_tree,
        "k8s/components/monitoring/alerts.yaml",
        "redis_master_link_up",
        "redis_master_link_status",
    )
    _replace(
        metrics_tree,
        "k8s/components/monitoring/grafana-dashboard.json",
        "redis_sentinel_master_ckquorum_status",
        "redis_sentinel_master_quorum_ok",
    )
    errors = _metric_errors(metrics_tree, capsys)
    exporter = "oliver006/redis_exporter:v1.62.0"
    assert (
        f"error: k8s/components/monitoring/alerts.yaml: redis_master_link_status is not exported"
        f" by {exporter}" in errors
    ), errors
    assert (
        "error: k8s/components/monitoring/grafana-dashboard.json: redis_sentinel_master_quorum_ok"
        f" is not exported by {exporter}" in errors
    ), errors


def test_an_exporter_of_another_version_is_refused(
    metrics_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _replace(
        metrics_tree,
        "k8s/components/redis-sentinel/redis-sentinel.yaml",
        "oliver006/redis_exporter:v1.62.0",
        "oliver006/redis_exporter:v1.63.0",
    )
    errors = _metric_errors(metrics_tree, capsys)
    assert any(
        e.startswith(
            "error: k8s/components/redis-sentinel/redis-sentinel.yaml:"
            " runs oliver006/redis_exporter:v1.63.0, but"
        )
        for e in errors
    ), errors
