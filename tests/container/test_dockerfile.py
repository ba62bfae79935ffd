"""Static checks of container/Dockerfile (no Docker engine here): pinned bases, ENGINE, serve."""

import re
from pathlib import Path

CONTAINER = Path(__file__).resolve().parents[2] / "container"
LINES = [
    line.strip()
    for line in re.sub(r"\\\n", " ", (CONTAINER / "Dockerfile").read_text()).splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]


def instructions(name: str) -> list[str]:
    return [line[len(name) + 1 :] for line in LINES if line.split()[0] == name]


def test_engine_arg_defaults_to_sglang_before_the_first_from() -> None:
    assert LINES[0] == "ARG ENGINE=sglang"


def test_base_registry_arg_defaults_to_docker_hub_before_the_first_from() -> None:
    assert LINES[1] == 'ARG BASE_REGISTRY=""'


def test_each_engine_stage_has_a_base_image_pinned_by_version_behind_the_base_registry() -> None:
    stages = {
        from_line.split()[-1]: from_line.split()[0].removeprefix("${BASE_REGISTRY}")
        for from_line in instructions("FROM")
        if " AS " in from_line and from_line.startswith("${BASE_REGISTRY}")
    }
    assert set(stages) == {"sglang", "vllm"}
    # A digest may follow the tag, never replace it: only a pull by tag fills the pull-through cache
    # (container/prime_base_image.sh).
    pin = r"(@sha256:[0-9a-f]{64})?"
    assert re.fullmatch(rf"lmsysorg/sglang:v\d+\.\d+\.\d+(\.post\d+)?-cu\d+{pin}", stages["sglang"])
    assert re.fullmatch(rf"vllm/vllm-openai:v\d+\.\d+\.\d+(-cu\d+)?{pin}", stages["vllm"])


def test_final_stage_is_the_selected_engine_and_records_it() -> None:
    assert instructions("FROM")[-1] == "${ENGINE}"
    assert "SERVE_ENGINE=${ENGINE}" in " ".join(instructions("ENV"))


def test_serve_and_its_modules_are_copied_onto_path() -> None:
    copied = " ".join(instructions("COPY"))
    modules = sorted(p.name for p in CONTAINER.glob("*.py"))
    for name in ["serve", *modules]:
        assert re.search(rf"(^|\s){re.escape(name)}\s", copied), name
    assert "PATH=/opt/serve:${PATH}" in " ".join(instructions("ENV"))


def test_boto3_is_installed_pinned() -> None:
    assert re.search(r"pip install .*\bboto3==\d+\.\d+\.\d+\b", " ".join(instructions("RUN")))


def test_sagemaker_can_run_serve_as_the_command() -> None:
    assert instructions("ENTRYPOINT") == ["[]"]
    assert instructions("CMD") == ['["serve"]']
    assert instructions("EXPOSE") == ["8080"]


def test_serve_is_executable() -> None:
    assert (CONTAINER / "serve").stat().st_mode & 0o111
