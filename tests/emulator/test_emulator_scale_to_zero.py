"""An inference component scaled to zero: refused invocations, and the control-plane calls that wake it."""

import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.emulator import Emulator, Endpoint
from local.emulator.components import NO_CAPACITY_MESSAGE, InferenceComponent
from tests.support.clock import ManualClock
from tests.support.recordings import fixture_reply
from tests.support.sagemaker_runtime import ENDPOINT, sagemaker_client, sagemaker_control_client
from tests.support.scripted_server import ScriptedServer

COMPONENT = "test-component"


@pytest.fixture
def cold_emulator(container: ScriptedServer) -> Iterator[Emulator]:
    endpoint = Endpoint(container.url, inference_components=(COMPONENT,))
    with Emulator({ENDPOINT: endpoint}, component_copies=0, warm_up_seconds=3600) as running:
        yield running


@pytest.fixture
def control(cold_emulator: Emulator) -> Any:
    return sagemaker_control_client(cold_emulator.url)


@pytest.mark.parametrize("operation", ["invoke_endpoint", "invoke_endpoint_with_response_stream"])
def test_invocation_at_zero_copies_is_refused_with_sagemakers_no_capacity_error(
    cold_emulator: Emulator, container: ScriptedServer, operation: str
) -> None:
    client = sagemaker_client(cold_emulator.url)

    with pytest.raises(ClientError) as caught:
        getattr(client, operation)(EndpointName=ENDPOINT, InferenceComponentName=COMPONENT, Body=b"{}")

    assert caught.value.response["Error"] == {"Code": "ValidationError", "Message": NO_CAPACITY_MESSAGE}
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert container.received == []


def test_describe_reports_a_scaled_to_zero_component(cold_emulator: Emulator, control: Any) -> None:
    described = control.describe_inference_component(InferenceComponentName=COMPONENT)

    assert described["InferenceComponentStatus"] == "InService"
    assert described["RuntimeConfig"] == {"DesiredCopyCount": 0, "CurrentCopyCount": 0}
    assert described["EndpointName"] == ENDPOINT
    assert described["InferenceComponentArn"].endswith(f":inference-component/{COMPONENT}")
    assert isinstance(described["CreationTime"], datetime)


def test_copy_asked_for_is_updating_until_its_warm_up_has_passed(
    cold_emulator: Emulator, control: Any
) -> None:
    answer = control.update_inference_component_runtime_config(
        InferenceComponentName=COMPONENT, DesiredRuntimeConfig={"CopyCount": 1}
    )

    assert answer["InferenceComponentArn"] == cold_emulator.components[COMPONENT].arn
    described = control.describe_inference_component(InferenceComponentName=COMPONENT)
    assert described["InferenceComponentStatus"] == "Updating"
    assert described["RuntimeConfig"] == {"DesiredCopyCount": 1, "CurrentCopyCount": 0}
    assert cold_emulator.components[COMPONENT].copy_count_requests == [1]


def test_copy_in_service_after_the_warm_up_answers_invocations(container: ScriptedServer) -> None:
    container.reply = fixture_reply("vllm", "error_bad_request")
    endpoint = Endpoint(container.url, inference_components=(COMPONENT,))
    with Emulator({ENDPOINT: endpoint}, component_copies=0, warm_up_seconds=0.0) as emulator:
        sagemaker_control_client(emulator.url).update_inference_component_runtime_config(
            InferenceComponentName=COMPONENT, DesiredRuntimeConfig={"CopyCount": 1}
        )
        client = sagemaker_client(emulator.url)
        with pytest.raises(client.exceptions.ModelError):
            # The container's own answer (a 400 wrapped in ModelError): the call reached the model.
            client.invoke_endpoint(EndpointName=ENDPOINT, InferenceComponentName=COMPONENT, Body=b"{}")

    assert len(container.received) == 1


def test_component_comes_into_service_warm_up_seconds_after_the_request() -> None:
    clock = ManualClock()
    component = InferenceComponent(COMPONENT, ENDPOINT, copies=0, warm_up_seconds=30, clock=clock)

    component.set_copy_count(1)
    clock.now += 29.9
    before = component.copies_in_service()
    clock.now += 0.1

    assert (before, component.copies_in_service()) == (0, 1)
    assert component.describe()["InferenceComponentStatus"] == "InService"


def test_invocations_are_counted_as_the_scale_to_zero_alarms_metrics_count_them() -> None:
    clock = ManualClock()
    component = InferenceComponent(COMPONENT, ENDPOINT, copies=0, warm_up_seconds=30, clock=clock)

    refused = component.admit()
    component.set_copy_count(1)
    clock.now += 30
    served = [component.admit(), component.admit()]

    assert (refused, served) == (False, [True, True])
    assert (component.no_capacity_invocation_failures, component.invocations) == (1, 2)


def test_scaling_in_to_zero_takes_effect_at_once() -> None:
    component = InferenceComponent(COMPONENT, ENDPOINT, copies=1, warm_up_seconds=600)

    component.set_copy_count(0)

    assert component.copies_in_service() == 0


def test_unknown_component_is_sagemakers_validation_exception(control: Any) -> None:
    with pytest.raises(ClientError) as caught:
        control.describe_inference_component(InferenceComponentName="nope")

    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["Error"]["Message"].startswith('Could not find inference component "arn:')
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_negative_copy_count_is_refused_before_reaching_the_emulator(control: Any) -> None:
    # botocore validates the model's bounds (InferenceComponentCopyCount: min 0) before sending.
    with pytest.raises(Exception, match="CopyCount"):
        control.update_inference_component_runtime_config(
            InferenceComponentName=COMPONENT, DesiredRuntimeConfig={"CopyCount": -1}
        )


def test_operation_the_emulator_does_not_serve_is_an_unknown_operation(control: Any) -> None:
    with pytest.raises(ClientError) as caught:
        control.describe_endpoint(EndpointName=ENDPOINT)

    assert caught.value.response["Error"]["Code"] == "UnknownOperationException"


def test_control_plane_call_without_a_signature_is_refused(cold_emulator: Emulator) -> None:

    request = urllib.request.Request(
        cold_emulator.url + "/",
        data=b"{}",
        headers={"X-Amz-Target": "SageMaker.DescribeInferenceComponent"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)

    assert caught.value.code == 403


def test_a_second_endpoint_on_the_same_backend_stays_in_service_while_the_first_is_at_zero(
    container: ScriptedServer,
) -> None:
    endpoints = {
        ENDPOINT: Endpoint(container.url, inference_components=(COMPONENT,)),
        "fallback-endpoint": Endpoint(
            container.url, inference_components=("fallback-component",), component_copies=1
        ),
    }
    with Emulator(endpoints, component_copies=0) as emulator:
        client = sagemaker_client(emulator.url)
        with pytest.raises(ClientError) as caught:
            client.invoke_endpoint(EndpointName=ENDPOINT, InferenceComponentName=COMPONENT, Body=b"{}")
        answer = client.invoke_endpoint(
            EndpointName="fallback-endpoint", InferenceComponentName="fallback-component", Body=b"{}"
        )["Body"].read()

    assert caught.value.response["Error"]["Message"] == NO_CAPACITY_MESSAGE
    assert answer == b'{"ok": true}'
    assert emulator.components["fallback-component"].endpoint_name == "fallback-endpoint"
    assert emulator.components["fallback-component"].invocations == 1


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        (
            {
                "one": Endpoint("http://127.0.0.1:1", inference_components=("same",)),
                "two": Endpoint("http://127.0.0.1:1", inference_components=("same",)),
            },
            "inference component names must be unique across endpoints",
        ),
    ],
)
def test_emulator_refuses_endpoints_sharing_a_component_name(
    endpoints: dict[str, Endpoint], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Emulator(endpoints)


def test_endpoint_refuses_component_copies_without_components() -> None:
    with pytest.raises(ValueError, match="component_copies needs inference_components"):
        Endpoint("http://127.0.0.1:1", component_copies=1)
