"""The agent API started from a Lambda bundle, as Lambda runs it: its run.sh on the Lambda's Python with only
the bundle and the standard library importable, beside the local stack's moto S3 and an emulator."""

import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3

from local.agent_environment import LOCAL_TOOLS, REGION, agent_environment, credential_arguments
from local.emulator import Emulator
from local.server_process import ServerProcess
from local.stack import AGENT_STARTUP_TIMEOUT, AGENT_STOP_GRACE, moto_s3
from local.vllm_server import free_port


class BundledAgentError(RuntimeError):
    """The agent API did not start from the bundle."""


def s3_client(url: str) -> Any:
    """A boto3 S3 client of the moto server at `url`."""
    return boto3.client("s3", endpoint_url=url, region_name=REGION, **credential_arguments())


def start_bundled_agent(
    stack: ExitStack, bundle: Path, lambda_python: str, workdir: Path, emulator: Emulator, **environment: Any
) -> tuple[str, str]:
    """Start the bundle's run.sh on ``emulator`` and a moto S3 of its own; return the API's and S3's URLs.

    ``environment`` is `local.agent_environment.agent_environment`'s keyword arguments; the caller's
    ``OTEL_*`` variables pass through, as on the local stack.
    """
    # run.sh execs `python3`: here the Lambda's Python without site-packages (-S) or PYTHON* variables (-E),
    # so only the bundle (run.sh's working directory) and the standard library can be imported; -B leaves
    # no bytecode in the bundle.
    (workdir / "python3").write_text(f'#!/bin/sh\nexec "{lambda_python}" -S -E -B "$@"\n')
    (workdir / "python3").chmod(0o755)
    s3_url = stack.enter_context(moto_s3())
    agent_port = free_port()
    variables = agent_environment(emulator.url, s3_url, LOCAL_TOOLS, **environment)
    variables["PATH"] = f"{workdir}{os.pathsep}{variables['PATH']}"
    variables["AWS_LWA_PORT"] = str(agent_port)
    agent_url = f"http://127.0.0.1:{agent_port}"
    stack.enter_context(
        ServerProcess(
            name="the agent API from the Lambda bundle",
            argv=["/bin/sh", str(bundle / "run.sh")],
            env=variables,
            log_file=workdir / "agent-api.log",
            ready_url=f"{agent_url}/health",
            startup_timeout=AGENT_STARTUP_TIMEOUT,
            stop_grace=AGENT_STOP_GRACE,
            error=BundledAgentError,
        )
    )
    return agent_url, s3_url
