"""What tracing costs: cold start, the Lambda bundle, a turn's first token and its end, a dead collector.

1. Cold start: `import agent_api.app` plus `create_app()` in fresh interpreters, traces off and on (`otlp`),
   median of N (goal: at most 1.2 s), and the OTLP exporter's own import, which the export thread does
   after start-up, off the request path.
2. The Lambda bundle as `cdk synth` builds it (arm64): its unzipped size (goal: at most 45 MiB) and the
   share of the OTLP exporter's distributions (protobuf, requests, ...).
3. Turns on the app in-process under uvicorn, in front of the SageMaker-runtime emulator replaying a
   recorded tool-calling answer, interleaved over N runs: traces off; to a live collector on 127.0.0.1;
   to a port that refuses connections; to a collector that accepts and never answers. For each: the
   medians of the time to the first text event (the export never runs before it: goal, the same as off)
   and of the whole turn, until the response closed (the added time: goal, at most about 1 s).

  .venv/bin/python benchmarks/trace_bench.py [--runs 15] [--cold-runs 7] [--no-bundle]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "lambda")]
# The turns' own log lines would drown the numbers (Powertools reads the level when agent_api is imported),
# and so would the exporter's, one per export to a dead collector.
os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)

import httpx  # noqa: E402
from httpx_sse import connect_sse  # noqa: E402

from agent_api import contract  # noqa: E402
from agent_api.app import create_app  # noqa: E402
from agent_api.settings import Settings  # noqa: E402
from tests.agent_api.harness import FAST_RETRIES, serve  # noqa: E402
from tests.support.otlp_collector import OtlpCollector, closed_endpoint, silent_endpoint  # noqa: E402
from tests.support.recordings import calculator_call_parts, fixture_parts  # noqa: E402
from tests.support.sagemaker_runtime import ENDPOINT, SageMakerRuntime, Stream  # noqa: E402

COLD_START_GOAL_SECONDS = 1.2
# The distributions the OTLP/HTTP exporter brings into the bundle (lambda/requirements.txt).
EXPORTER_DISTRIBUTIONS = (
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-exporter-otlp-proto-common",
    "opentelemetry-exporter-otlp-common",
    "opentelemetry-exporter-http-transport",
    "opentelemetry-proto",
    "protobuf",
    "googleapis-common-protos",
    "requests",
    "charset-normalizer",
)
COLD_START = """
import os, sys, time
started = time.perf_counter()
sys.path.insert(0, {lambda_dir!r})
import agent_api.app
agent_api.app.create_app()
print(time.perf_counter() - started)
"""
EXPORTER_IMPORT = """
import sys, time
sys.path.insert(0, {lambda_dir!r})
import agent_api.app
started = time.perf_counter()
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
print(time.perf_counter() - started)
"""
BASE_ENVIRONMENT = {
    "AGENT_ENDPOINT_NAME": ENDPOINT,
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def in_fresh_interpreters(code: str, environment: dict[str, str], runs: int) -> float:
    """The median of what ``code`` prints (seconds) over ``runs`` fresh interpreters."""
    samples = []
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-c", code.format(lambda_dir=str(ROOT / "lambda"))],
            env={"PATH": os.environ.get("PATH", ""), **environment},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        samples.append(float(output.strip().splitlines()[-1]))
    return statistics.median(samples)


def cold_start(runs: int) -> None:
    print(f"\n1. Cold start: import agent_api.app + create_app(), median of {runs} fresh interpreters")
    traced = {
        **BASE_ENVIRONMENT,
        contract.AGENT_TRACES.variable: contract.TRACES_OTLP,
        contract.AGENT_OTLP_ENDPOINT.variable: "http://127.0.0.1:4318",
    }
    for name, environment in (("traces off", BASE_ENVIRONMENT), ("traces otlp", traced)):
        seconds = in_fresh_interpreters(COLD_START, environment, runs)
        verdict = "met" if seconds <= COLD_START_GOAL_SECONDS else "NOT met"
        print(f"  {name:36} {ms(seconds)}  (goal <= {COLD_START_GOAL_SECONDS} s: {verdict})")
    exporter = in_fresh_interpreters(EXPORTER_IMPORT, BASE_ENVIRONMENT, runs)
    print(f"  {'OTLP exporter import (export thread)':36} {ms(exporter)}  (after start-up, off requests)")


def bundle() -> None:
    from tests.infra.infra_support import put_supported_node_first_on_path

    put_supported_node_first_on_path()  # before aws_cdk starts its Node process
    from stacks.agent_api.bundling import (
        MAX_BUNDLE_BYTES,
        MIB,
        PipLocalBundling,
        bundle_size,
        installed_distributions,
    )

    print("\n2. Lambda bundle (arm64, as cdk synth builds it)")
    with tempfile.TemporaryDirectory() as output:
        PipLocalBundling(ROOT / "lambda", architecture="arm64", python_version="3.13").try_bundle(output)
        total = bundle_size(Path(output))
        exporter = 0
        for distribution in installed_distributions(Path(output)):
            name = distribution.metadata["Name"].lower().replace("_", "-")
            if name in EXPORTER_DISTRIBUTIONS:
                exporter += sum(
                    (Path(output) / str(file)).stat().st_size
                    for file in distribution.files or []
                    if (Path(output) / str(file)).is_file()
                )
    verdict = "met" if total <= MAX_BUNDLE_BYTES else "NOT met"
    print(f"  unzipped size                        {total / MIB:7.1f} MiB  (goal <= 45 MiB: {verdict})")
    print(f"  of which the OTLP exporter's         {exporter / MIB:7.1f} MiB")


@contextmanager
def app_with(settings: Settings, turns: int) -> Iterator[httpx.Client]:
    """Serve the app in front of a runtime scripted with ``turns`` tool-calling turns."""
    answers = [
        Stream(calculator_call_parts()),
        Stream(fixture_parts("vllm/tools_result_followup_stream.txt")),
    ]
    with ExitStack() as stack:
        runtime = stack.enter_context(SageMakerRuntime(*answers * turns))
        os.environ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = runtime.url
        base_url = stack.enter_context(serve(create_app(settings, retry_policy=FAST_RETRIES)))
        yield stack.enter_context(httpx.Client(base_url=base_url, timeout=60))


def one_turn(client: httpx.Client) -> tuple[float, float, float]:
    """Seconds to the first text event, to `done` and to the response's end, of one tool-calling turn."""
    started = time.perf_counter()
    first = done = None
    with connect_sse(client, "POST", "/chat", json={"prompt": "What is 6 times 7?"}) as source:
        for event in source.iter_sse():
            if event.event == "text" and first is None:
                first = time.perf_counter() - started
            elif event.event == "done":
                done = time.perf_counter() - started
            elif event.event == "error":
                raise RuntimeError(f"error event: {event.data}")
    closed = time.perf_counter() - started
    assert first is not None and done is not None, "no text or no done event"
    return first, done, closed


def turns(runs: int) -> None:
    print(f"\n3. One tool-calling turn (recorded answers, in-process), median of {runs} interleaved runs")
    for name, value in BASE_ENVIRONMENT.items():
        os.environ[name] = value
    base = Settings.from_env({**BASE_ENVIRONMENT, "AGENT_TOOLS": "calculator"})
    with ExitStack() as stack:
        collector = stack.enter_context(OtlpCollector())
        silent = stack.enter_context(silent_endpoint())
        variants = {
            "traces off": base,
            "live collector": replace(base, traces=contract.TRACES_OTLP, otlp_endpoint=collector.url),
            "refused (port closed)": replace(
                base, traces=contract.TRACES_OTLP, otlp_endpoint=closed_endpoint()
            ),
            "silent (never answers)": replace(base, traces=contract.TRACES_OTLP, otlp_endpoint=silent),
        }
        apps = {
            name: stack.enter_context(app_with(settings, runs + 2)) for name, settings in variants.items()
        }
        samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in apps}
        for run in range(runs + 2):
            for name, client in apps.items():
                sample = one_turn(client)
                if run >= 2:  # warm-up
                    samples[name].append(sample)
        off_first = statistics.median(first for first, _, _ in samples["traces off"])
        off_total = statistics.median(total for _, _, total in samples["traces off"])
        print(
            f"  {'':24} {'first text event':>17} {'(vs off)':>11} {'done -> closed':>15} "
            f"{'response closed':>16} {'(vs off)':>11}"
        )
        for name, values in samples.items():
            first = statistics.median(f for f, _, _ in values)
            export = statistics.median(t - d for _, d, t in values)
            total = statistics.median(t for _, _, t in values)
            print(
                f"  {name:24} {ms(first):>17} {ms(first - off_first):>11} {ms(export):>15} "
                f"{ms(total):>16} {ms(total - off_total):>11}"
            )
        spans = len(collector.spans)
        print(f"  the live collector received {spans} spans ({spans / (runs + 2):.0f} per turn)")
        print(
            f"  budget: a turn waits at most {contract.TRACE_EXPORT_BUDGET_SECONDS} s for its export "
            "(goal: an unreachable collector adds at most about 1 s, and the turn succeeds)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="turns per variant")
    parser.add_argument("--cold-runs", type=int, default=7, help="fresh interpreters per cold start")
    parser.add_argument("--no-bundle", action="store_true", help="skip building the Lambda bundle")
    args = parser.parse_args()
    cold_start(args.cold_runs)
    if not args.no_bundle:
        bundle()
    turns(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
