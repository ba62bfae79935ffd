"""``python -m local.emulator --backend URL``: serve the emulated AWS APIs in front of a model server."""

import argparse
import contextlib
import logging
import signal
import sys
from types import FrameType

from local.emulator.backend import ConverseModel, Endpoint
from local.emulator.options import add_fault_arguments, faults_from_arguments
from local.emulator.server import Emulator

DEFAULT_ENDPOINT_NAME = "local-endpoint"


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser (faults are optional flags)."""
    parser = argparse.ArgumentParser(
        prog="python -m local.emulator",
        description="Serve the SageMaker runtime API (InvokeEndpoint and InvokeEndpointWithResponseStream), "
        "and optionally Bedrock runtime's Converse and ConverseStream, in front of a container-contract or "
        "OpenAI-compatible server.",
    )
    parser.add_argument(
        "--backend",
        required=True,
        help="base URL of the server (its /invocations is called), or a full URL such as "
        "http://127.0.0.1:8000/v1/chat/completions",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8081, help="port to listen on, 0 = any (default: %(default)s)"
    )
    parser.add_argument(
        "--endpoint-name",
        default=DEFAULT_ENDPOINT_NAME,
        help="the endpoint name to serve (default: %(default)s)",
    )
    parser.add_argument(
        "--region", default="us-east-1", help="region shown in messages (default: %(default)s)"
    )
    parser.add_argument("--backend-timeout", type=float, default=60.0, help="seconds per backend read")
    components = parser.add_argument_group("inference component (scale to zero)")
    components.add_argument(
        "--inference-component",
        metavar="NAME",
        help="the endpoint hosts this inference component: every invocation must name it",
    )
    components.add_argument(
        "--copies",
        type=int,
        default=1,
        metavar="N",
        help="copies of the component in service at start; 0 = scaled to zero (default: %(default)s)",
    )
    components.add_argument(
        "--warm-up-seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds a copy asked for takes to come into service (default: %(default)s)",
    )
    components.add_argument(
        "--extra-endpoint",
        action="append",
        default=[],
        metavar="NAME[:COMPONENT]",
        help="also serve endpoint NAME on the same backend (hosting inference component COMPONENT, which has "
        "a copy in service from the start whatever --copies says); repeatable",
    )
    bedrock = parser.add_argument_group("Bedrock runtime (Converse, ConverseStream)")
    bedrock.add_argument(
        "--bedrock-model",
        action="append",
        default=[],
        metavar="ID",
        help="answer Converse and ConverseStream for this model id, inference profile id or ARN, translated "
        "to the backend's OpenAI chat-completions API (its /v1/chat/completions, or the path --backend has); "
        "repeatable; any other model id is refused as Bedrock refuses it",
    )
    add_fault_arguments(parser)
    return parser


def _extra_endpoint(value: str, backend: str) -> tuple[str, Endpoint]:
    """Return the name and ``Endpoint`` an ``--extra-endpoint NAME[:COMPONENT]`` value asks for."""
    name, _, component = value.partition(":")
    if not name or (":" in value and not component):
        raise ValueError(f"--extra-endpoint takes NAME or NAME:COMPONENT, got {value!r}")
    if not component:
        return name, Endpoint(backend)
    return name, Endpoint(backend, inference_components=(component,), component_copies=1)


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until Ctrl-C or SIGTERM."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        faults = faults_from_arguments(args)
        if args.inference_component is None and (args.copies != 1 or args.warm_up_seconds):
            raise ValueError("--copies and --warm-up-seconds need --inference-component")
        components = (args.inference_component,) if args.inference_component else ()
        endpoints = {args.endpoint_name: Endpoint(args.backend, inference_components=components)}
        for value in args.extra_endpoint:
            name, endpoint = _extra_endpoint(value, args.backend)
            if name in endpoints:
                raise ValueError(f"endpoint {name!r} is named twice")
            endpoints[name] = endpoint
        converse_models = {model_id: ConverseModel(args.backend) for model_id in args.bedrock_model}
        emulator = Emulator(
            endpoints,
            converse_models=converse_models,
            host=args.host,
            port=args.port,
            region=args.region,
            faults=faults,
            backend_timeout=args.backend_timeout,
            component_copies=args.copies,
            warm_up_seconds=args.warm_up_seconds,
        )
    except (ValueError, OSError) as error:
        parser.error(str(error))

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Installed before the URL is printed: whoever reads it may send SIGTERM right away.
    signal.signal(signal.SIGTERM, interrupt)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        print(f"AWS emulator on {emulator.url}")
        print(f"SageMaker endpoints {', '.join(endpoints)} -> {args.backend}")
        print(f"boto3: AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME={emulator.url}", flush=True)
        if emulator.components:
            print(f"boto3: AWS_ENDPOINT_URL_SAGEMAKER={emulator.url}", flush=True)
        if converse_models:
            print(f"Bedrock models {', '.join(converse_models)} -> {args.backend}")
            print(f"boto3: AWS_ENDPOINT_URL_BEDROCK_RUNTIME={emulator.url}", flush=True)
        emulator.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
