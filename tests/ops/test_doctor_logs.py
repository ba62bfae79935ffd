"""The doctor's function check and the newest error lines of a log group, on Stubber."""

from __future__ import annotations

from datetime import timedelta

from ops.doctor.findings import Status
from ops.doctor.logs import (
    FUNCTION_ERRORS,
    MODEL_ERRORS,
    check_function,
    check_model_logs,
    model_log_group,
)
from ops.environment import load_environment
from tests.ops.conftest import Stubbed
from tests.ops.doctor_fakes import (
    COMPONENT,
    ENDPOINT,
    FUNCTION,
    FUNCTION_LOGS,
    NOW,
    ago,
    function,
    log_events,
)

DEV = load_environment("dev")
GROUP = f"/aws/sagemaker/InferenceComponents/{COMPONENT}"


def millis(moment: object) -> int:
    return int(moment.timestamp() * 1000)  # type: ignore[attr-defined]


def search(group: str, pattern: str, start: object, end: object) -> dict[str, object]:
    """The parameters of one FilterLogEvents page, as the doctor must send them."""
    return {
        "logGroupName": group,
        "filterPattern": pattern,
        "startTime": millis(start),
        "endTime": millis(end),
        "limit": 100,
    }


def test_the_model_logs_where_its_kind_of_deployment_writes() -> None:
    assert model_log_group(ENDPOINT, COMPONENT) == GROUP
    assert model_log_group(ENDPOINT, None) == f"/aws/sagemaker/Endpoints/{ENDPOINT}"


def test_no_error_lines_searches_the_newest_hour_then_the_rest_of_the_window(stubbed: Stubbed) -> None:
    logs = stubbed.stub["logs"]
    logs.add_response("filter_log_events", log_events(), search(GROUP, MODEL_ERRORS, ago(hours=1), NOW))
    logs.add_response(
        "filter_log_events", log_events(), search(GROUP, MODEL_ERRORS, ago(hours=24), ago(hours=1))
    )
    (finding,) = check_model_logs(stubbed.account, GROUP)
    assert (finding.status, finding.summary) == (
        Status.OK,
        f"no error lines in {GROUP} in the last 24 h",
    )


def test_error_lines_show_the_newest_few_folded_and_cut_short(stubbed: Stubbed) -> None:
    lines = [(ago(minutes=50 - n), f"ERROR engine line {n}") for n in range(6)]
    lines.append(
        (ago(minutes=1), "torch.OutOfMemoryError: CUDA out of memory.\n  Tried to allocate " + "x" * 400)
    )
    stubbed.stub["logs"].add_response(
        "filter_log_events", log_events(*lines), search(GROUP, MODEL_ERRORS, ago(hours=1), NOW)
    )
    (finding,) = check_model_logs(stubbed.account, GROUP)
    assert finding.status is Status.WARN
    assert finding.summary == f"7 error line(s) in {GROUP} in the last 24 h, the newest below"
    assert finding.evidence[:4] == tuple(
        f"2026-05-04 11:{10 + n}:00 UTC ERROR engine line {n}" for n in range(2, 6)
    )
    newest = finding.evidence[4]
    assert newest.startswith(
        "2026-05-04 11:59:00 UTC torch.OutOfMemoryError: CUDA out of memory. Tried to allocate"
    )
    assert newest.endswith("...") and len(newest) == len("2026-05-04 11:59:00 UTC ") + 240
    assert finding.action == (
        f"read them in context: aws logs tail {GROUP} --since 24h --filter-pattern '{MODEL_ERRORS}' "
        "--region us-east-1"
    )


def test_lines_from_both_ranges_are_shown_in_time_order(stubbed: Stubbed) -> None:
    logs = stubbed.stub["logs"]
    logs.add_response("filter_log_events", log_events((ago(minutes=5), "ERROR new")))
    logs.add_response("filter_log_events", log_events((ago(hours=5), "ERROR old")))
    (finding,) = check_model_logs(stubbed.account, GROUP)
    assert finding.evidence == ("2026-05-04 07:00:00 UTC ERROR old", "2026-05-04 11:55:00 UTC ERROR new")


def test_a_missing_log_group_is_a_warning_not_an_error(stubbed: Stubbed) -> None:
    stubbed.stub["logs"].add_client_error("filter_log_events", "ResourceNotFoundException", "not found")
    (finding,) = check_model_logs(stubbed.account, GROUP)
    assert (finding.status, finding.summary) == (
        Status.WARN,
        f"no log group {GROUP}: nothing has logged there yet",
    )


def test_a_one_hour_window_is_one_search(stubbed: Stubbed) -> None:
    stubbed.account.window = timedelta(hours=1)
    stubbed.stub["logs"].add_response("filter_log_events", log_events())
    (finding,) = check_model_logs(stubbed.account, GROUP)
    assert finding.status is Status.OK


def script_function(stubbed: Stubbed, configuration: dict[str, object], reserved: int | None = None) -> None:
    lambda_ = stubbed.stub["lambda_"]
    lambda_.add_response("get_function_configuration", configuration, {"FunctionName": FUNCTION})
    concurrency = {} if reserved is None else {"ReservedConcurrentExecutions": reserved}
    lambda_.add_response("get_function_concurrency", concurrency, {"FunctionName": FUNCTION})


def test_a_working_function_reads_its_own_log_group(stubbed: Stubbed) -> None:
    script_function(stubbed, function(), reserved=20)
    logs = stubbed.stub["logs"]
    logs.add_response(
        "filter_log_events", log_events(), search(FUNCTION_LOGS, FUNCTION_ERRORS, ago(hours=1), NOW)
    )
    logs.add_response("filter_log_events", log_events())
    state, lines = check_function(stubbed.account, DEV, FUNCTION)
    assert (state.status, state.summary) == (
        Status.OK,
        "Active, last update Successful, reserved concurrency 20",
    )
    assert (lines.status, lines.subject) == (Status.OK, "function logs")


def test_a_function_whose_update_failed_is_a_failure(stubbed: Stubbed) -> None:
    script_function(stubbed, function(update="Failed", LastUpdateStatusReason="KMS key is disabled"))
    stubbed.stub["logs"].add_response("filter_log_events", log_events((ago(minutes=2), "ERROR boom")))
    stubbed.stub["logs"].add_response("filter_log_events", log_events())
    state, lines = check_function(stubbed.account, DEV, FUNCTION)
    assert (state.status, state.summary) == (Status.FAIL, "Active, last update Failed: KMS key is disabled")
    assert lines.status is Status.WARN


def test_a_reserved_concurrency_of_zero_throttles_everything(stubbed: Stubbed) -> None:
    script_function(stubbed, function(), reserved=0)
    stubbed.stub["logs"].add_response("filter_log_events", log_events())
    stubbed.stub["logs"].add_response("filter_log_events", log_events())
    state, _ = check_function(stubbed.account, DEV, FUNCTION)
    assert state.status is Status.FAIL
    assert (
        state.action is not None and f"delete-function-concurrency --function-name {FUNCTION}" in state.action
    )


def test_without_a_logging_config_the_function_logs_to_lambdas_default_group(stubbed: Stubbed) -> None:
    script_function(stubbed, {"FunctionName": FUNCTION, "State": "Inactive"})
    default = f"/aws/lambda/{FUNCTION}"
    logs = stubbed.stub["logs"]
    logs.add_response("filter_log_events", log_events(), search(default, FUNCTION_ERRORS, ago(hours=1), NOW))
    logs.add_response("filter_log_events", log_events())
    state, _ = check_function(stubbed.account, DEV, FUNCTION)
    assert state.summary == "Inactive, last update Successful, no reserved concurrency"
