"""The runner's workload env (libs/config/src/workload.env.ts, `runnerWorkloadEnv`), read once.

Every name (subjects, stream, consumers, buckets) comes from here: the runner derives none.
A wrong environment lists every problem at once and exits 78, as the Node apps do.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Mapping

SLUG = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class InvalidEnvError(Exception):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("runner: invalid environment (see .env.example):\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Input:
    subject: str
    consumer: str


@dataclass(frozen=True)
class RunnerEnv:
    runtime_id: str
    version: str
    version_id: str
    nats_server: str
    base_path: str
    health_port: int
    listen_host: str
    obs_prefix: str
    data_prefix: str
    workflow: str
    node_name: str
    node_id: str
    handler_path: str
    stream: str
    inputs: tuple[Input, ...]
    output: str
    is_exitpoint: bool
    kv_project: str | None
    kv_workflow: str | None
    kv_node: str | None
    object_store: str | None
    entrypoint_proto: str | None
    handler_timeout: float
    max_in_flight: int
    config_keys: tuple[str, ...]
    config_files_dir: str | None
    nats_creds: str | None
    nats_inbox_prefix: str | None
    kre_prefix: str = "kre"
    extra: dict = field(default_factory=dict)
    # The node's KRT `batch` (KRT_BATCH_MAX_SIZE, KRT_BATCH_MAX_LATENCY_MS): None when unset.
    batch_max_size: int | None = None
    batch_max_latency_ms: int | None = None
    # Where spans are relayed over NATS (KRT_NATS_TRACES_SUBJECT, set when the installation
    # exports traces; tracing.from_env reads it): None when unset.
    traces_subject: str | None = None


def load_env(source: Mapping[str, str] | None = None) -> RunnerEnv:
    """@raises InvalidEnvError listing every missing or wrong variable."""
    src = os.environ if source is None else source
    problems: list[str] = []

    def req(key: str) -> str:
        value = src.get(key)
        if value is None or value == "":
            problems.append(f"{key}: is required")
            return ""
        return value

    def opt(key: str) -> str | None:
        value = src.get(key)
        return value if value else None

    def slug(key: str, what: str) -> str:
        value = req(key)
        if value and not SLUG.match(value):
            problems.append(f"{key}: must be a {what} slug ([a-z0-9-], starting with a letter)")
        return value

    def port(key: str) -> int:
        raw = req(key)
        try:
            n = int(raw)
        except ValueError:
            if raw:
                problems.append(f"{key}: must be a port number")
            return 0
        if not 1 <= n <= 65535:
            problems.append(f"{key}: must be a port number from 1 to 65535")
        return n

    def seconds(key: str, fallback: float, maximum: float) -> float:
        raw = src.get(key)
        if raw is None or raw == "":
            return fallback
        try:
            n = float(raw)
        except ValueError:
            problems.append(f"{key}: must be a number of seconds")
            return fallback
        if not math.isfinite(n) or n <= 0:
            problems.append(f"{key}: must be a positive number of seconds")
        elif n > maximum:
            problems.append(f"{key}: must be at most {maximum:g}")
        return n

    def boolean(key: str) -> bool:
        raw = src.get(key)
        if raw is None or raw == "":
            return False
        if raw not in ("true", "false"):
            problems.append(f"{key}: must be true or false")
        return raw == "true"

    inputs: list[Input] = []
    raw_inputs = req("KRT_NATS_INPUTS")
    if raw_inputs:
        for pair in raw_inputs.split(","):
            parts = pair.strip().split("=")
            if len(parts) != 2 or not parts[0] or not parts[1]:
                problems.append("KRT_NATS_INPUTS: must be comma-separated subject=consumer pairs")
                inputs = []
                break
            inputs.append(Input(parts[0], parts[1]))

    max_in_flight = 16
    raw_mif = src.get("KRT_MAX_IN_FLIGHT")
    if raw_mif:
        try:
            max_in_flight = int(raw_mif)
            if not 1 <= max_in_flight <= 10_000:
                raise ValueError
        except ValueError:
            problems.append("KRT_MAX_IN_FLIGHT: must be an integer from 1 to 10000")
            max_in_flight = 16

    def whole(key: str, low: int, high: int) -> int | None:
        raw = src.get(key)
        if raw is None or raw == "":
            return None
        try:
            n = int(raw)
        except ValueError:
            n = low - 1
        if not low <= n <= high:
            problems.append(f"{key}: must be an integer from {low} to {high}")
            return None
        return n

    batch_max_size = whole("KRT_BATCH_MAX_SIZE", 1, 1024)
    batch_max_latency_ms = whole("KRT_BATCH_MAX_LATENCY_MS", 0, 10_000)
    if (not src.get("KRT_BATCH_MAX_SIZE")) != (not src.get("KRT_BATCH_MAX_LATENCY_MS")):
        problems.append("KRT_BATCH_MAX_LATENCY_MS: KRT_BATCH_MAX_SIZE and KRT_BATCH_MAX_LATENCY_MS are set together (the KRT batch)")

    prefix = src.get("KRE_PREFIX") or "kre"
    env = RunnerEnv(
        runtime_id=slug("KRT_RUNTIME_ID", "runtime"),
        version=slug("KRT_VERSION", "version"),
        version_id=req("KRT_VERSION_ID"),
        nats_server=req("KRT_NATS_SERVER"),
        base_path=req("KRT_BASE_PATH"),
        health_port=port("KRT_HEALTH_PORT"),
        listen_host=src.get("KRT_LISTEN_HOST") or "127.0.0.1",
        obs_prefix=req("KRT_NATS_OBS_PREFIX"),
        data_prefix=req("KRT_NATS_DATA_PREFIX"),
        workflow=slug("KRT_WORKFLOW_NAME", "workflow"),
        node_name=req("KRT_NODE_NAME"),
        node_id=slug("KRT_NODE_ID", "node"),
        handler_path=req("KRT_HANDLER_PATH"),
        stream=req("KRT_NATS_STREAM"),
        inputs=tuple(inputs),
        output=req("KRT_NATS_OUTPUT"),
        is_exitpoint=boolean("KRT_IS_EXITPOINT"),
        kv_project=opt("KRT_NATS_KEY_VALUE_STORE_PROJECT"),
        kv_workflow=opt("KRT_NATS_KEY_VALUE_STORE_WORKFLOW"),
        kv_node=opt("KRT_NATS_KEY_VALUE_STORE_NODE"),
        object_store=opt("KRT_NATS_OBJECT_STORE"),
        entrypoint_proto=opt("KRT_ENTRYPOINT_PROTO"),
        handler_timeout=seconds("KRT_HANDLER_TIMEOUT", 25.0, 3600.0),
        max_in_flight=max_in_flight,
        batch_max_size=batch_max_size,
        batch_max_latency_ms=batch_max_latency_ms,
        config_keys=tuple(k.strip() for k in (src.get("KRT_CONFIG_KEYS") or "").split(",") if k.strip()),
        config_files_dir=opt("KRT_CONFIG_FILES_DIR"),
        nats_creds=opt("KRT_NATS_CREDS"),
        nats_inbox_prefix=opt("KRT_NATS_INBOX_PREFIX"),
        kre_prefix=prefix,
        traces_subject=opt("KRT_NATS_TRACES_SUBJECT"),
    )
    # The contract the engine writes (libs/config's runner schema, checked in beside this file):
    # a variable it requires that is missing is a problem even if this reader has no use for it.
    reported = {problem.split(":", 1)[0] for problem in problems}
    for name in contract_required():
        if name not in reported and not src.get(name):
            problems.append(f"{name}: is required")
    if env.nats_creds and not os.path.isfile(env.nats_creds):
        problems.append(f"KRT_NATS_CREDS: {env.nats_creds} is not a readable file")
    if env.nats_inbox_prefix and not re.match(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$", env.nats_inbox_prefix):
        problems.append("KRT_NATS_INBOX_PREFIX: must be a subject prefix (tokens of letters, digits, _ and -)")
    if env.traces_subject and not re.match(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$", env.traces_subject):
        problems.append("KRT_NATS_TRACES_SUBJECT: must be a NATS subject (tokens of letters, digits, _ and -)")
    if problems:
        raise InvalidEnvError(problems)
    return env


#: Required by the contract, but optional here: without them the runner cannot reach an
#: installation's NATS at all (it refuses anonymous clients), and this package's tests run it
#: against plain servers.
CONTRACT_OPTIONAL_HERE = frozenset({"KRT_NATS_CREDS", "KRT_NATS_INBOX_PREFIX"})


def contract() -> dict:
    """The runner env contract (JSON Schema generated from libs/config/src/workload.env.ts)."""
    with open(os.path.join(os.path.dirname(__file__), "workload_env.schema.json"), encoding="utf-8") as f:
        return json.load(f)


def contract_required() -> list[str]:
    return [name for name in contract()["required"] if name not in CONTRACT_OPTIONAL_HERE]


def config_values(env: RunnerEnv, source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The version's config: each KRT_CONFIG_KEYS variable (unset reads as ""), plus the files
    under KRT_CONFIG_FILES_DIR that are no variable (values too large for the environment)."""
    src = os.environ if source is None else source
    values = {key: src.get(key, "") for key in env.config_keys}
    d = env.config_files_dir
    if d and os.path.isdir(d):
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if name not in values and os.path.isfile(path):
                try:
                    with open(path, encoding="utf-8") as f:
                        values[name] = f.read()
                except (OSError, UnicodeDecodeError):
                    pass
    return values
