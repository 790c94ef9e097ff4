#!/usr/bin/env python3
"""Validates everything under deploy/: `make deploy-check` runs it.

- yamllint over every YAML file (deploy/.yamllint);
- kubernetes-validate over the Kubernetes manifests, strict, against the
  pinned Kubernetes versions (the schemas ship in the package: offline);
- check-jsonschema over compose.yaml with the Compose Specification schema
  it ships (vendor.compose-spec: offline);
- the Dockerfile's shape (stages, non-root user, volume, health check);
- every TOML configuration (the files and the ConfigMap's) parsed, its keys
  known, and no secret written inline: only `*_env` / `*_file` references;
- the pieces agree with each other (ports, paths, probes, Secret
  references, the grace period against the drain, one replica);
- each validator rejects a deliberately broken copy, so a check that
  silently stopped checking fails too.

Run with the .venv interpreter that ensure-deploy-tools.sh fills; the
validators are taken from the same bin directory. Prints one line per check
and `deploy-check: N passed, N failed`; exits 1 when any failed.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent.parent
REPO = DEPLOY.parent
BIN = Path(sys.executable).parent
K8S = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"

# The oldest Kubernetes the manifests are meant for (PVC retention policy and
# unhealthyPodEvictionPolicy are GA there or earlier) and a current one.
KUBERNETES_VERSIONS = ("1.31.0", "1.34.0")
# payledger's drain bound after SIGTERM, in seconds (SHUTDOWN_DRAIN_MS_MAX in
# crates/payledger/src/shutdown.rs: stop accepting, finish
# requests, flush the Kafka relay and webhook deliveries).
DRAIN_S = 30
# Margin the grace period keeps above preStop + drain, in seconds.
GRACE_MARGIN_S = 10
# Longest a validator may run, in seconds.
TOOL_TIMEOUT_S = 120

SECRET_NAMES = {"secret", "secret_key", "webhook_secrets", "password", "client_secret",
                "api_key", "private_key", "token", "passphrase"}
SECRET_VALUE = re.compile(r"^(sk|rk)_(live|test)_|^whsec_")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")

# The configuration file's shape: a dict is a table of known keys, `str` a
# table of free-form string values (librdkafka properties), `None` a leaf.
STRIPE_KEYS = ("api_base_url", "secret_key_env", "secret_key_file", "publishable_key",
               "webhook_secrets_env", "webhook_secrets_file", "connect_timeout_ms",
               "request_timeout_ms", "js_url", "find_pages_max", "secret_key",
               "webhook_secrets")
CONFIG_SHAPE = {
    "listen": None, "data": None, "partitions": None, "master_key_file": None,
    "public_url": None, "token_purge_interval_s": None,
    "limits": {"request_body_bytes_max": None, "token_ttl_s": None},
    "logging": {"format": None, "level": None},
    "metrics": {"listen": None},
    "kafka": {"brokers": None, "topic_template": None, "topic_partitions": None,
              "topic_replication": None, "create_topics": None, "format": None, "topic_formats": str,
              "message_timeout_ms": None, "linger_ms": None, "producer": str,
              "producer_env": str, "producer_file": str},
    "webhooks": {"backoff_min_ms": None, "backoff_max_ms": None, "timeout_ms": None,
                 "ca_files": None, "attempts_max": None, "retry_age_max_s": None},
    "psp": {"projects": {"*": {"stripe": dict.fromkeys(STRIPE_KEYS),
                               "orders": {"retry_after_ms": None, "collect_wait_ms": None}}},
            "refresh": {"first_delay_ms": None, "backoff_max_ms": None, "attempts_max": None},
            "executor": {"retry_delay_ms": None, "retry_delay_max_ms": None,
                         "attempts_max": None}},
}
# The binary's own `payledger config check` is the authority on this shape:
# the end-to-end test `deploy_configurations_pass_config_check` runs it on
# every TOML file here. This copy lets `make deploy-check` run before a build.


class Checks:
    """Runs named checks. A check fails by raising AssertionError; any other
    exception (a missing key, a file that does not parse) fails it too, with
    the exception named, and the remaining checks still run."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def run(self, name: str, check, *args) -> None:
        try:
            check(*args)
        except AssertionError as error:
            self.failed += 1
            print(f"FAIL {name}: {error}")
        except Exception as error:  # noqa: BLE001 - reported as a failed check
            self.failed += 1
            print(f"FAIL {name}: {type(error).__name__}: {error}")
        else:
            self.passed += 1
            print(f"ok   {name}")

    def value(self, name: str, produce, default):
        """produce(), or default with a failed check when it raises."""
        try:
            return produce()
        except Exception as error:  # noqa: BLE001 - reported as a failed check
            self.failed += 1
            print(f"FAIL {name}: {type(error).__name__}: {error}")
            return default


def tool(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / name), *args], check=False, capture_output=True,
                          text=True, timeout=TOOL_TIMEOUT_S, cwd=REPO)


def yamllint(paths: list[Path]) -> subprocess.CompletedProcess:
    return tool("yamllint", "--strict", "-c", str(DEPLOY / ".yamllint"), *map(str, paths))


def kubernetes_validate(version: str, paths: list[Path]) -> subprocess.CompletedProcess:
    return tool("kubernetes-validate", "--strict", "--quiet", "-k", version, *map(str, paths))


def compose_validate(path: Path) -> subprocess.CompletedProcess:
    return tool("check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(path))


def expect_ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, (result.stdout + result.stderr).strip()


def expect_rejected(result: subprocess.CompletedProcess) -> None:
    assert result.returncode != 0, "the broken copy was accepted:\n" + result.stdout


# --- the files -------------------------------------------------------------

# The OpenAPI document keeps the layout of the vendor's document it copies
# schemas from; openapi-spec-validator checks it (tests/e2e/openapi.rs).
NOT_LINTED = {DEPLOY / "openapi.yaml"}


def yaml_files() -> list[Path]:
    found = sorted(p for p in DEPLOY.rglob("*")
                   if p.suffix in (".yaml", ".yml") and p not in NOT_LINTED)
    return [DEPLOY / ".yamllint", *found]


def applied_files() -> list[Path]:
    """The manifests kustomization.yaml applies."""
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def manifest_files() -> list[Path]:
    """Every manifest: the applied ones and maintenance/ (applied by hand)."""
    return applied_files() + sorted((K8S / "maintenance").glob("*.yaml"))


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def manifests() -> dict[tuple[str, str], dict]:
    """Every Kubernetes object by (kind, name)."""
    objects = {}
    for path in manifest_files():
        for doc in load_all(path):
            objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


def toml_sources() -> dict[str, str]:
    """Every TOML configuration text under deploy/, by where it is."""
    sources = {str(p.relative_to(REPO)): p.read_text() for p in sorted(DEPLOY.rglob("*.toml"))}
    for (kind, name), doc in manifests().items():
        if kind == "ConfigMap":
            for key, text in doc.get("data", {}).items():
                if key.endswith(".toml"):
                    sources[f"ConfigMap {name} {key}"] = text
    return sources


# --- external validators ---------------------------------------------------

def check_yamllint(paths: list[Path]) -> None:
    expect_ok(yamllint(paths))


def check_kubernetes(version: str, paths: list[Path]) -> None:
    expect_ok(kubernetes_validate(version, paths))


def check_compose(path: Path) -> None:
    expect_ok(compose_validate(path))


# --- the Dockerfile --------------------------------------------------------

def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined."""
    instructions, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        pending += " " + stripped.removesuffix("\\")
        if not stripped.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            instructions.append((word.upper(), rest.strip()))
            pending = ""
    return instructions


def stages(instructions: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    result = []
    for instruction in instructions:
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def check_dockerfile(text: str) -> None:
    all_stages = stages(dockerfile_instructions(text))
    assert len(all_stages) >= 2, "a multi-stage build needs at least two FROM"
    froms = [stage[0][1] for stage in all_stages]
    assert all(" AS " in f.upper() for f in froms), f"every stage is named: {froms}"
    assert all("${DEBIAN_RELEASE}" in f for f in froms), \
        "build and runtime share one Debian release (glibc, libstdc++)"
    runtime = dict((word, args) for word, args in all_stages[-1] if word != "COPY")
    copies = [args for word, args in all_stages[-1] if word == "COPY"]
    build_text = " ".join(args for stage in all_stages[:-1] for _, args in stage)
    assert "cargo build --release --locked --bin payledger" in build_text, "the release build"
    assert any(c.startswith("--from=") for c in copies), "the runtime copies the build's binary"
    user = runtime.get("USER", "").split(":")[0]
    assert user and user not in ("0", "root"), f"the runtime runs as a non-root USER, not {user!r}"
    assert user.isdigit(), "a numeric USER, which Kubernetes' runAsNonRoot can verify"
    assert "/var/lib/payledger" in runtime.get("VOLUME", ""), "VOLUME /var/lib/payledger"
    assert "payledger-probe" in runtime.get("HEALTHCHECK", ""), "a HEALTHCHECK on the probe"
    assert runtime.get("STOPSIGNAL") == "SIGTERM", "STOPSIGNAL SIGTERM starts the drain"
    assert "8080" in runtime.get("EXPOSE", "").split(), "EXPOSE 8080"
    for args in copies:
        if not args.startswith("--"):
            for source in args.split()[:-1]:
                assert (REPO / source).exists(), f"COPY source {source} exists"


def check_dockerignore() -> None:
    """Every file the build copies is let through Dockerfile.dockerignore,
    which excludes everything else."""
    lines = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert "*" in lines, "the context excludes everything not named"
    allowed = [line[1:].rstrip("/") for line in lines if line.startswith("!")]
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    for word, args in instructions:
        if word == "COPY" and not args.startswith("--"):
            for source in (s.rstrip("/") for s in args.split()[:-1]):
                assert any(source == a or source.startswith(a + "/") for a in allowed), \
                    f"COPY {source}: not in the build context (Dockerfile.dockerignore)"


def dockerfile_user() -> int:
    runtime = stages(dockerfile_instructions(DOCKERFILE.read_text()))[-1]
    return int(dict(runtime)["USER"].split(":")[0])


# --- TOML configurations ---------------------------------------------------

def leaves(table: dict, path: tuple = ()):
    for key, value in table.items():
        if isinstance(value, dict):
            yield from leaves(value, path + (key,))
        else:
            yield path + (key,), value


def check_shape(table: dict, shape, where: str) -> None:
    for key, value in table.items():
        known = shape.get(key, shape.get("*", KeyError)) if isinstance(shape, dict) else shape
        assert known is not KeyError, f"unknown key {where}{key} (a typo?)"
        if known is str:
            assert isinstance(value, dict) and all(isinstance(v, str) for v in value.values()), \
                f"{where}{key} is a table of strings"
        elif isinstance(known, dict):
            assert isinstance(value, dict), f"{where}{key} is a table"
            check_shape(value, known, f"{where}{key}.")
        else:
            assert not isinstance(value, dict), f"{where}{key} is a value, not a table"


def check_no_inline_secret(path: tuple, value) -> None:
    name = ".".join(path)
    leaf = path[-1].lower()
    if any(part.endswith("_env") for part in path[:-1]) or leaf.endswith("_env"):
        assert isinstance(value, str) and ENV_NAME.match(value), \
            f"{name} names an environment variable, not {value!r}"
        return
    if leaf.endswith("_file"):
        assert isinstance(value, str) and value.startswith("/"), f"{name} is an absolute path"
        return
    last = leaf.rsplit(".", 1)[-1]
    assert last not in SECRET_NAMES and not last.endswith(("password", "_secret", "_secrets")), \
        f"{name} holds a secret inline: use {path[-1]}_env or {path[-1]}_file"
    assert not (isinstance(value, str) and SECRET_VALUE.search(value)), \
        f"{name} holds what looks like a Stripe secret"


def check_config(text: str) -> None:
    config = tomllib.loads(text)
    check_shape(config, CONFIG_SHAPE, "")
    for path, value in leaves(config):
        check_no_inline_secret(path, value)
    for key in ("listen", "data", "master_key_file"):
        assert key in config, f"{key} is set"


def env_references(config: dict) -> set[str]:
    """The environment variables a configuration reads secrets from."""
    names = set()
    for path, value in leaves(config):
        if path[-1].endswith("_env") or any(p.endswith("_env") for p in path[:-1]):
            names.add(value)
    return names


def port_of(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


# --- Kubernetes ------------------------------------------------------------

def check_kustomization() -> None:
    kustomization = load_all(K8S / "kustomization.yaml")[0]
    listed = sorted(kustomization["resources"])
    assert listed == sorted(p.name for p in applied_files()), \
        f"kustomization.yaml lists every manifest: {listed}"


def statefulset_parts():
    objects = manifests()
    statefulset = objects[("StatefulSet", "payledger")]
    pod = statefulset["spec"]["template"]["spec"]
    container = pod["containers"][0]
    configmap = objects[("ConfigMap", "payledger-config")]
    config = tomllib.loads(configmap["data"]["payledger.toml"])
    return objects, statefulset, pod, container, config


def check_statefulset() -> None:
    objects, statefulset, pod, container, config = statefulset_parts()
    spec = statefulset["spec"]
    assert spec["replicas"] == 1, "payledger is single-node: replicas must be 1"
    assert ("Service", spec["serviceName"]) in objects, "the governing Service exists"
    headless = objects[("Service", spec["serviceName"])]
    assert headless["spec"].get("clusterIP") == "None", "the governing Service is headless"
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    pre_stop_s = int(pre_stop[-1]) if pre_stop[0] == "sleep" else 0
    grace = pod["terminationGracePeriodSeconds"]
    assert grace >= pre_stop_s + DRAIN_S + GRACE_MARGIN_S, \
        f"terminationGracePeriodSeconds {grace} leaves room for preStop {pre_stop_s} s " \
        f"and the {DRAIN_S} s drain"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready", "readiness on /ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health", "liveness on /health"
    requests = container["resources"]["requests"]
    assert "cpu" in requests and "memory" in requests, "cpu and memory requests"
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True, "runAsNonRoot"
    assert security["runAsUser"] == dockerfile_user(), "runAsUser is the image's USER"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == port_of(config["listen"]), "containerPort http is listen's port"
    assert ports["metrics"] == port_of(config["metrics"]["listen"]), "metrics port"


def check_statefulset_storage() -> None:
    objects, statefulset, pod, container, config = statefulset_parts()
    claims = {c["metadata"]["name"]: c for c in statefulset["spec"]["volumeClaimTemplates"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert "data" in claims and "data" in mounts, "a PersistentVolumeClaim per replica"
    assert claims["data"]["spec"]["accessModes"] == ["ReadWriteOnce"], "the volume is RWO"
    for key in ("data", "master_key_file"):
        assert config[key].startswith(mounts["data"] + "/"), f"{key} lies on the volume"
    config_volume = next(v for v in pod["volumes"] if v["name"] == "config")
    assert config_volume["configMap"]["name"] == "payledger-config", "config from the ConfigMap"
    args = container["args"]
    config_path = args[args.index("--config") + 1]
    assert config_path == mounts["config"] + "/payledger.toml", "--config is the mounted file"


def check_statefulset_secrets() -> None:
    objects, statefulset, pod, container, config = statefulset_parts()
    env = {e["name"]: e for e in container.get("env", [])}
    for name in env_references(config):
        assert name in env, f"{name}, named in payledger.toml, is set in the container"
        assert "secretKeyRef" in env[name].get("valueFrom", {}), f"{name} comes from a Secret"
    for name, entry in env.items():
        if re.search(r"SECRET|PASSWORD|TOKEN", name):
            assert "value" not in entry, f"{name} has a literal value in the manifest"


def check_selectors() -> None:
    objects, statefulset, pod, container, config = statefulset_parts()
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    selected = [(kind, name, doc["spec"]["selector"]) for (kind, name), doc in objects.items()
                if kind in ("Service", "PodDisruptionBudget")]
    for kind, name, selector in selected:
        match = selector.get("matchLabels", selector)
        assert match.items() <= labels.items(), f"{kind} {name} selects the payledger pod"
    assert any(kind == "PodDisruptionBudget" for kind, _, _ in selected), "a PodDisruptionBudget"


def check_maintenance() -> None:
    objects, statefulset, pod, container, config = statefulset_parts()
    maintenance = objects[("Pod", "payledger-maintenance")]["spec"]
    template = statefulset["spec"]["volumeClaimTemplates"][0]
    claim_name = f"{template['metadata']['name']}-{statefulset['metadata']['name']}-0"
    claim = objects[("PersistentVolumeClaim", claim_name)]
    assert claim["spec"] == template["spec"], "claim.yaml equals the StatefulSet's template"
    volume = next(v for v in maintenance["volumes"] if "persistentVolumeClaim" in v)
    assert volume["persistentVolumeClaim"]["claimName"] == claim_name, \
        f"the maintenance pod mounts {claim_name}"
    tools = maintenance["containers"][0]
    mount = next(m for m in tools["volumeMounts"] if m["name"] == volume["name"])
    data_mount = next(m for m in container["volumeMounts"] if m["name"] == "data")
    assert mount["mountPath"] == data_mount["mountPath"], "at the server's mount path"
    assert tools["image"] == container["image"], "with the server's image"
    assert maintenance["securityContext"]["runAsUser"] == dockerfile_user(), \
        "as the server's user (the owner of the data directory)"
    labels = objects[("Pod", "payledger-maintenance")]["metadata"]["labels"]
    for kind, name in objects:
        if kind == "Service":
            selector = objects[(kind, name)]["spec"]["selector"]
            assert not selector.items() <= labels.items(), f"Service {name} avoids it"


# --- compose ---------------------------------------------------------------

def check_compose_services() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    for name, service in services.items():
        assert "healthcheck" in service, f"service {name} has a health check"
    payledger = services["payledger"]
    grace = int(payledger["stop_grace_period"].removesuffix("s"))
    assert grace >= DRAIN_S + GRACE_MARGIN_S, f"stop_grace_period {grace}s exceeds the drain"
    assert payledger["build"]["dockerfile"] == "deploy/Dockerfile", "built from deploy/Dockerfile"
    kafka = services["kafka"]["environment"]
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}, "KRaft"
    assert services["localstripe"]["profiles"] == ["stripe-emulator"], "optional profile"
    named = set(compose["volumes"])
    for name in ("payledger", "kafka"):
        sources = {v.split(":")[0] for v in services[name]["volumes"]}
        assert sources <= named, f"service {name} keeps its data on named volumes"


def check_compose_configs() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    payledger = compose["services"]["payledger"]
    template = compose["configs"]["payledger-config"]["file"]
    variants = sorted((DEPLOY / "compose").glob("*.toml"))
    assert (DEPLOY / re.sub(r"\$\{[A-Z_]+:-([^}]+)\}", r"\1", template)).exists(), \
        f"the default config file of {template} exists"
    environment = payledger["environment"]
    for path in variants:
        config = tomllib.loads(path.read_text())
        for name in env_references(config):
            assert name in environment, f"{name}, named in {path.name}, is set for payledger"
        assert config["kafka"]["brokers"].split(":")[0] in compose["services"], \
            f"{path.name} points the relay at the kafka service"


# --- the validators catch breakage ----------------------------------------

def broken_copy(directory: Path, name: str, document) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump_all(document, sort_keys=False)
                    if isinstance(document, list) else document)
    return path


def check_rejects_broken() -> None:
    statefulset = load_all(K8S / "statefulset.yaml")
    misspelled = copy.deepcopy(statefulset)
    probe = misspelled[0]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    probe["httpGet"]["pth"] = probe["httpGet"].pop("path")
    wrong_type = copy.deepcopy(statefulset)
    wrong_type[0]["spec"]["replicas"] = "one"
    compose = yaml.safe_load(COMPOSE.read_text())
    kafka = compose["services"]["kafka"]
    kafka["helthcheck"] = kafka.pop("healthcheck")
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        for index, document in enumerate((misspelled, wrong_type)):
            path = broken_copy(directory, f"statefulset-{index}.yaml", document)
            expect_rejected(kubernetes_validate(KUBERNETES_VERSIONS[0], [path]))
        expect_rejected(compose_validate(broken_copy(directory, "compose.yaml", [compose])))
        bad_indent = broken_copy(directory, "bad.yaml", "---\nkey: value\n  bad: indent\n")
        expect_rejected(yamllint([bad_indent]))


def check_rejects_broken_dockerfile() -> None:
    text = DOCKERFILE.read_text()
    for old, new in (("USER 10001:10001", "USER root"), ("USER 10001:10001", ""),
                     ("FROM debian", "# FROM debian"), ("VOLUME [", "# VOLUME [")):
        assert old in text, f"{old!r} is in the Dockerfile"
        try:
            check_dockerfile(text.replace(old, new, 1))
        except AssertionError:
            continue
        raise AssertionError(f"a Dockerfile with {old!r} made {new!r} was accepted")


def check_rejects_inline_secret() -> None:
    for text in ('[psp.projects.shop.stripe]\nsecret_key = "sk_test_x"\n',
                 '[kafka.producer]\n"sasl.password" = "hunter2"\n',
                 '[psp.projects.shop.stripe]\nwebhook_secrets = ["whsec_x"]\n'):
        try:
            check_config('listen = "0.0.0.0:8080"\ndata = "/d"\nmaster_key_file = "/d/k"\n' + text)
        except AssertionError:
            continue
        raise AssertionError(f"an inline secret was accepted: {text!r}")


def main() -> int:
    checks = Checks()
    checks.run("yamllint deploy/", check_yamllint, yaml_files())
    for version in KUBERNETES_VERSIONS:
        checks.run(f"kubernetes-validate --strict -k {version}", check_kubernetes, version,
                   manifest_files())
    checks.run("compose.yaml against the Compose schema", check_compose, COMPOSE)
    checks.run("Dockerfile", check_dockerfile, DOCKERFILE.read_text())
    checks.run("Dockerfile.dockerignore lets the copied files through", check_dockerignore)
    for where, text in checks.value("read the configurations", toml_sources, {}).items():
        checks.run(f"config {where}: known keys, no inline secrets", check_config, text)
    checks.run("kustomization lists the manifests", check_kustomization)
    checks.run("StatefulSet: one replica, probes, grace period, ports", check_statefulset)
    checks.run("StatefulSet: volume, data paths, ConfigMap", check_statefulset_storage)
    checks.run("StatefulSet: secrets from the Secret only", check_statefulset_secrets)
    checks.run("Services and PodDisruptionBudget select the pod", check_selectors)
    checks.run("maintenance pod and claim match the StatefulSet", check_maintenance)
    checks.run("compose: health checks, grace, KRaft, profile, volumes", check_compose_services)
    checks.run("compose: config files and their variables", check_compose_configs)
    checks.run("validators reject broken copies", check_rejects_broken)
    checks.run("Dockerfile check rejects broken copies", check_rejects_broken_dockerfile)
    checks.run("inline secrets are rejected", check_rejects_inline_secret)
    print(f"deploy-check: {checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
