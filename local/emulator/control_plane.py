"""The ``sagemaker`` control-plane calls the agent makes, served on the emulator's own port.

botocore's ``sagemaker`` client speaks the JSON 1.1 protocol: ``POST /`` with the operation in the
``X-Amz-Target`` header (``SageMaker.<Operation>``) and JSON in and out (botocore's service model
``sagemaker/2017-07-24``). Only the inference-component calls the agent API needs are answered:
``DescribeInferenceComponent`` and ``UpdateInferenceComponentRuntimeConfig``.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass

from local.emulator import errors
from local.emulator.components import InferenceComponent
from local.emulator.exchange import Exchange

TARGET_PREFIX = "SageMaker."
CONTENT_TYPE = "application/x-amz-json-1.1"


@dataclass(frozen=True)
class Answer:
    """A successful control-plane answer: its JSON body."""

    body: dict[str, object]

    def encoded_body(self) -> bytes:
        """Return the JSON body bytes."""
        return json.dumps(self.body).encode("utf-8")


def serve(exchange: Exchange, components: Mapping[str, InferenceComponent], region: str) -> None:
    """Answer one control-plane request (``POST /`` with an ``X-Amz-Target`` header) on ``exchange``."""
    body = exchange.read_body()
    if body is None:
        return
    if "Authorization" not in exchange.headers:
        exchange.send_error_response(errors.missing_authentication())
        return
    answer = handle(exchange.headers.get("X-Amz-Target"), body, components, region)
    if isinstance(answer, errors.ErrorResponse):
        exchange.send_error_response(answer)
        return
    exchange.send_whole(200, {"Content-Type": CONTENT_TYPE}, answer.encoded_body())


def handle(
    target: str | None, body: bytes, components: Mapping[str, InferenceComponent], region: str
) -> Answer | errors.ErrorResponse:
    """Answer one control-plane request (``target`` is its ``X-Amz-Target`` header)."""
    operation = target.removeprefix(TARGET_PREFIX) if target and target.startswith(TARGET_PREFIX) else None
    if operation not in _OPERATIONS:
        return errors.control_plane_error(
            "UnknownOperationException", f"The emulator does not serve the operation {target!r}."
        )
    try:
        request = json.loads(body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return errors.control_plane_error("SerializationException", "The request body is not JSON.")
    if not isinstance(request, dict):
        return errors.control_plane_error("SerializationException", "The request body is not a JSON object.")
    name = request.get("InferenceComponentName")
    if not isinstance(name, str):
        return errors.control_plane_error(
            "ValidationException", "1 validation error detected: InferenceComponentName is required."
        )
    component = components.get(name)
    if component is None:
        # SageMaker's wording for a component that does not exist (relied on by terraform-provider-aws).
        arn = f"arn:aws:sagemaker:{region}:{errors.ACCOUNT_ID}:inference-component/{name}"
        return errors.control_plane_error(
            "ValidationException", f'Could not find inference component "{arn}".'
        )
    return _OPERATIONS[operation](component, request)


def _describe(component: InferenceComponent, request: dict[str, object]) -> Answer | errors.ErrorResponse:
    return Answer(component.describe())


def _update_runtime_config(
    component: InferenceComponent, request: dict[str, object]
) -> Answer | errors.ErrorResponse:
    config = request.get("DesiredRuntimeConfig")
    copies = config.get("CopyCount") if isinstance(config, dict) else None
    if not isinstance(copies, int) or isinstance(copies, bool):
        return errors.control_plane_error(
            "ValidationException", "1 validation error detected: DesiredRuntimeConfig.CopyCount is required."
        )
    try:
        component.set_copy_count(copies)
    except ValueError as error:
        return errors.control_plane_error("ValidationException", str(error))
    return Answer({"InferenceComponentArn": component.arn})


_OPERATIONS = {
    "DescribeInferenceComponent": _describe,
    "UpdateInferenceComponentRuntimeConfig": _update_runtime_config,
}
