"""Request side: Strands conversation → request body, for each format."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sagemaker_provider import SageMakerModel
from sagemaker_provider.chat_templates import Llama31ChatTemplate
from sagemaker_provider.messages import to_openai_messages, to_openai_tool_choice

TOOL_SPEC: Any = {
    "name": "get_weather",
    "description": "Weather in a city.",
    "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
CONVERSATION: Any = [
    {"role": "user", "content": [{"text": "Weather in Paris?"}, {"text": "Be brief."}]},
    {
        "role": "assistant",
        "content": [
            {"text": "Let me check."},
            {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}},
        ],
    },
    {
        "role": "user",
        "content": [
            {"toolResult": {"toolUseId": "call_1", "status": "success", "content": [{"json": {"t": 21}}]}},
            {"text": "Thanks"},
        ],
    },
]


def _body(model: SageMakerModel, *args: Any, **kwargs: Any) -> Any:
    return json.loads(model.build_request(*args, **kwargs)["Body"])


def _model(**config: Any) -> SageMakerModel:
    return SageMakerModel(endpoint_name="e", client=object(), **config)


def test_text_blocks_of_one_message_are_all_kept() -> None:
    assert to_openai_messages(CONVERSATION[:1]) == [
        {"role": "user", "content": "Weather in Paris?\nBe brief."}
    ]


def test_system_prompt_comes_first() -> None:
    assert to_openai_messages(CONVERSATION[:1], "Be nice.")[0] == {"role": "system", "content": "Be nice."}


def test_assistant_tool_use_becomes_tool_calls_beside_its_text() -> None:
    assistant = to_openai_messages(CONVERSATION)[1]
    assert assistant == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }


def test_tool_result_becomes_tool_message_before_user_text() -> None:
    assert to_openai_messages(CONVERSATION)[2:] == [
        {"role": "tool", "tool_call_id": "call_1", "content": '{"t": 21}'},
        {"role": "user", "content": "Thanks"},
    ]


def test_tool_result_as_user_text_option_names_the_tool() -> None:
    assert to_openai_messages(CONVERSATION, tool_results_as_user_text=True)[2:] == [
        {"role": "user", "content": 'Tool get_weather (call call_1) returned: {"t": 21}\nThanks'}
    ]


def test_image_becomes_data_url_part() -> None:
    messages: Any = [
        {
            "role": "user",
            "content": [{"text": "What?"}, {"image": {"format": "png", "source": {"bytes": b"\x89PNG"}}}],
        }
    ]
    assert to_openai_messages(messages)[0]["content"] == [
        {"type": "text", "text": "What?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}},
    ]


def test_unsupported_block_is_rejected_with_its_name() -> None:
    messages: Any = [{"role": "user", "content": [{"video": {"format": "mp4", "source": {"bytes": b""}}}]}]
    with pytest.raises(ValueError, match="video"):
        to_openai_messages(messages)


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"auto": {}}, "auto"),
        ({"any": {}}, "required"),
        ({"tool": {"name": "get_weather"}}, {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_tool_choice_is_converted(choice: Any, expected: Any) -> None:
    assert to_openai_tool_choice(choice) == expected


def test_chat_body_has_tools_choice_params_and_usage_option() -> None:
    body = _body(
        _model(params={"max_tokens": 64, "temperature": 0.1}), CONVERSATION, [TOOL_SPEC], None, {"any": {}}
    )
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather in a city.",
                "parameters": TOOL_SPEC["inputSchema"]["json"],
            },
        }
    ]
    assert body["tool_choice"] == "required"
    assert (body["max_tokens"], body["temperature"], body["stream"]) == (64, 0.1, True)
    assert body["stream_options"] == {"include_usage": True}


def test_chat_body_without_tools_has_no_tool_fields() -> None:
    body = _body(_model(), CONVERSATION[:1], None, None, {"auto": {}})
    assert "tools" not in body and "tool_choice" not in body


def test_model_field_and_additional_fields_are_sent() -> None:
    body = _body(_model(model="tiny-llama", additional_request_fields={"top_k": 5}), CONVERSATION[:1])
    assert (body["model"], body["top_k"]) == ("tiny-llama", 5)


def test_tgi_body_renders_llama_prompt_with_native_parameters() -> None:
    body = _body(_model(response_format="tgi", params={"max_tokens": 32}), CONVERSATION[:1], None, "Sys")
    assert body["inputs"] == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nSys<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWeather in Paris?\nBe brief.<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert body["parameters"] == {"details": True, "max_new_tokens": 32}
    assert body["stream"] is True


@pytest.mark.parametrize(
    ("params", "sent"),
    [
        # TGI refuses temperature 0 ("`temperature` must be strictly positive"): OpenAI's 0 is greedy
        # decoding, TGI's default, as TGI's own chat route sends it.
        ({"temperature": 0}, {}),
        ({"temperature": 0.0, "top_p": 0.9}, {"top_p": 0.9}),
        # Any other temperature samples, as on TGI's chat route.
        ({"temperature": 0.7}, {"temperature": 0.7, "do_sample": True}),
        # TGI refuses top_p 1.0 ("`top_p` must be > 0.0 and < 1.0"): keeping every token is its default.
        ({"top_p": 1.0, "temperature": 1}, {"temperature": 1, "do_sample": True}),
        ({"temperature": 0.5, "do_sample": False}, {"temperature": 0.5, "do_sample": False}),
    ],
)
def test_tgi_parameters_are_ones_tgi_accepts(params: dict[str, Any], sent: dict[str, Any]) -> None:
    body = _body(_model(response_format="tgi", params=params), CONVERSATION[:1])
    assert body["parameters"] == {"details": True, **sent}


def test_tgi_refuses_top_p_zero_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="top_p"):
        _model(response_format="tgi", params={"top_p": 0}).build_request(CONVERSATION[:1])


@pytest.mark.parametrize("response_format", ["openai-chat", "tgi", "lmi"])
def test_cited_text_in_a_user_turn_is_sent_as_text(response_format: str) -> None:
    # E.g. an answer with document citations handed to another agent as its prompt.
    cited: Any = {
        "citationsContent": {
            "citations": [{"title": "report", "sourceContent": [{"text": "21 degrees"}]}],
            "content": [{"text": "It is 21 degrees in Paris."}],
        }
    }
    messages: Any = [{"role": "user", "content": [{"text": "Summarise:"}, cited]}]
    body = _body(_model(response_format=response_format), messages)
    sent = body["messages"][0]["content"] if response_format == "openai-chat" else body["inputs"]
    assert "Summarise:\nIt is 21 degrees in Paris." in sent


def test_lmi_body_uses_lmi_stop_parameter_name() -> None:
    body = _body(_model(response_format="lmi", params={"stop": ["\n"]}), CONVERSATION[:1])
    assert body["parameters"]["stop_sequences"] == ["\n"]


def test_llama_template_renders_tool_turns() -> None:
    prompt = Llama31ChatTemplate().render(CONVERSATION, None)
    call = '{"name": "get_weather", "parameters": {"city": "Paris"}}'
    assert f"<|start_header_id|>assistant<|end_header_id|>\n\nLet me check.\n{call}<|eot_id|>" in prompt
    assert '<|start_header_id|>ipython<|end_header_id|>\n\n{"t": 21}<|eot_id|>' in prompt


def test_user_supplied_chat_template_is_used() -> None:
    class Plain:
        def render(self, messages: Any, system_prompt: str | None, tool_specs: Any) -> str:
            return "PROMPT"

    body = _body(_model(response_format="tgi", chat_template=Plain()), CONVERSATION[:1])
    assert body["inputs"] == "PROMPT"


def test_native_format_refuses_tools_with_a_template_that_cannot_read_calls() -> None:
    class Plain:
        def render(self, messages: Any, system_prompt: str | None, tool_specs: Any) -> str:
            return "PROMPT"

    with pytest.raises(ValueError, match="parse_tool_calls"):
        _model(response_format="tgi", chat_template=Plain()).build_request(CONVERSATION[:1], [TOOL_SPEC])


def test_llama_template_describes_tools_in_first_user_turn() -> None:
    prompt = Llama31ChatTemplate().render(CONVERSATION, None, [TOOL_SPEC])
    assert prompt.startswith(
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n\n<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nGiven the following functions"
    )
    assert prompt.count('"name": "get_weather"') == 2  # the description and the earlier call
    assert prompt.index("Weather in Paris?") > prompt.index('"description": "Weather in a city."')


@pytest.mark.parametrize(
    ("text", "calls"),
    [
        ('{"name": "get_weather", "parameters": {"city": "Paris"}}', [("get_weather", {"city": "Paris"})]),
        (
            ' <|python_tag|>{"name": "a", "parameters": {}}; {"name": "b", "arguments": {"x": 1}}',
            [("a", {}), ("b", {"x": 1})],
        ),
        ("{not json", None),
        ('{"city": "Paris"}', None),
        ("Paris is sunny.", None),
    ],
)
def test_llama_template_reads_json_tool_calls(text: str, calls: Any) -> None:
    assert Llama31ChatTemplate().parse_tool_calls(text) == calls


def test_sagemaker_request_fields_are_set() -> None:
    request = _model(target_variant="v1", target_model="m.tar.gz").build_request(CONVERSATION[:1])
    assert (request["EndpointName"], request["TargetVariant"], request["TargetModel"]) == (
        "e",
        "v1",
        "m.tar.gz",
    )
    assert request["ContentType"] == "application/json"


def _tool_result(*content: Any) -> Any:
    return [
        CONVERSATION[0],
        CONVERSATION[1],
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "call_1", "status": "success", "content": list(content)}}
            ],
        },
    ]


def test_text_document_in_a_tool_result_is_sent_as_its_text() -> None:
    document = {"document": {"format": "md", "name": "report", "source": {"bytes": b"# Sunny\n21 degrees"}}}
    body = _body(
        _model(response_format="openai-chat"), _tool_result({"text": "Found:"}, document), [TOOL_SPEC]
    )
    assert body["messages"][2] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "Found:\nDocument report:\n# Sunny\n21 degrees",
    }


@pytest.mark.parametrize(
    ("item", "kind"),
    [
        ({"document": {"format": "pdf", "name": "report", "source": {"bytes": b"%PDF"}}}, "pdf"),
        ({"video": {"format": "mp4", "source": {"bytes": b"\x00"}}}, "video"),
    ],
)
def test_tool_result_content_that_cannot_be_sent_is_rejected(item: Any, kind: str) -> None:
    for response_format in ("openai-chat", "tgi"):
        with pytest.raises(ValueError, match=kind):
            _body(_model(response_format=response_format), _tool_result(item), [TOOL_SPEC])


@pytest.mark.parametrize("blocks", [[{"cachePoint": {"type": "default"}}], [{"reasoningContent": {}}]])
def test_user_turn_of_only_skipped_blocks_stays_a_user_turn(blocks: Any) -> None:
    messages: Any = [
        {"role": "user", "content": [{"text": "Hi"}]},
        {"role": "assistant", "content": [{"text": "Hello"}]},
        {"role": "user", "content": blocks},
        {"role": "assistant", "content": [{"text": "Yes?"}]},
    ]
    roles = [m["role"] for m in _body(_model(response_format="openai-chat"), messages)["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]


@pytest.mark.parametrize("response_format", ["tgi", "lmi"])
def test_native_formats_honour_a_forced_tool_in_the_prompt(response_format: str) -> None:
    other: Any = {**TOOL_SPEC, "name": "get_time", "description": "Time in a city."}
    choice: Any = {"tool": {"name": "get_weather"}}
    prompt = _body(
        _model(response_format=response_format), CONVERSATION[:1], [TOOL_SPEC, other], None, choice
    )["inputs"]
    assert '"get_weather"' in prompt
    assert '"get_time"' not in prompt
    assert "You must answer with a call to the get_weather tool." in prompt


@pytest.mark.parametrize("response_format", ["tgi", "lmi"])
def test_native_formats_honour_any_tool_in_the_prompt(response_format: str) -> None:
    choice: Any = {"any": {}}
    prompt = _body(_model(response_format=response_format), CONVERSATION[:1], [TOOL_SPEC], None, choice)[
        "inputs"
    ]
    assert "You must answer with a call to one of the tools." in prompt
