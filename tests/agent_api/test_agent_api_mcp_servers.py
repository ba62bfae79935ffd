"""agent_api.mcp_servers: the shape of `agent.mcp_servers`, each problem named at its path, and its values."""

from __future__ import annotations

from typing import Any

import pytest

from agent_api import contract
from agent_api.mcp_servers import (
    AgentCoreGateway,
    BearerAuth,
    McpServer,
    NoAuth,
    OAuthClientCredentials,
    SigV4Auth,
    parse,
    problems,
)
from agent_api.settings import Settings, SettingsError

GATEWAY = "https://my-gateway-a1b2c3d4e5.gateway.bedrock-agentcore.eu-west-1.amazonaws.com/mcp"
DOCS = {"name": "docs", "url": "https://docs.example.com/mcp"}


def test_a_full_list_reads_as_typed_servers() -> None:
    value = [
        {**DOCS, "tools": ["search", "fetch"], "prefix": "docs", "timeout_seconds": 12.5},
        {
            "name": "gw",
            "url": GATEWAY,
            "auth": {
                "type": "oauth",
                "token_url": "https://pool.auth.eu-west-1.amazoncognito.com/oauth2/token",
                "client_id": "abc123",
                "secret": "mcp/gw-client",
                "scopes": ["gw/invoke"],
                "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab",
            },
        },
        {"name": "iam-gw", "url": GATEWAY, "auth": {"type": "sigv4"}},
        {"name": "vendor", "url": "https://mcp.vendor.example/v1", "auth": {"type": "bearer", "secret": "v"}},
        {"name": "local", "url": "http://127.0.0.1:8765/mcp", "auth": {"type": "none"}},
    ]
    assert problems(value) == []
    docs, gateway, iam, vendor, local = parse(value)
    assert docs == McpServer("docs", DOCS["url"], NoAuth(), ("search", "fetch"), "docs", 12.5)
    assert docs.agent_name("search") == "docs_search"
    assert gateway.auth == OAuthClientCredentials(
        "https://pool.auth.eu-west-1.amazoncognito.com/oauth2/token",
        "abc123",
        "mcp/gw-client",
        ("gw/invoke",),
        "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab",
    )
    assert gateway.gateway == AgentCoreGateway("my-gateway-a1b2c3d4e5", "eu-west-1")
    assert iam.auth == SigV4Auth("eu-west-1", "bedrock-agentcore")
    assert (vendor.auth, vendor.secrets, vendor.timeout_seconds) == (BearerAuth("v"), ("v",), 30.0)
    assert (local.gateway, local.agent_name("x")) == (None, "x")


@pytest.mark.parametrize(
    ("value", "path", "text"),
    [
        ({"name": "x"}, "", "expected a list of MCP servers"),
        (["docs"], "[0]", "expected an object with a name and a url"),
        ([{"url": DOCS["url"]}], "[0].name", "required"),
        ([{"name": "docs"}], "[0].url", "required"),
        ([{**DOCS, "headers": {}}], "[0].headers", "unknown key; allowed keys: name, url, tools, prefix"),
        ([{**DOCS, "name": "-docs"}], "[0].name", "1-32 of A-Z a-z 0-9 _ -"),
        ([DOCS, {**DOCS, "url": "https://b.example/mcp"}], "[1].name", "'docs' is also [0]'s name"),
        (
            [{**DOCS, "url": "http://docs.example.com/mcp"}],
            "[0].url",
            "expected an https:// URL (http:// only",
        ),
        ([{**DOCS, "url": "https://user:pw@docs.example.com/mcp"}], "[0].url", "must not hold credentials"),
        ([{**DOCS, "url": "https://docs.example.com:99999/mcp"}], "[0].url", "port is not a number"),
        ([{**DOCS, "url": "https://docs.example.com/mcp#x"}], "[0].url", "without a fragment"),
        ([{**DOCS, "url": "https:///mcp"}], "[0].url", "expected an https:// URL"),
        ([{**DOCS, "tools": []}], "[0].tools", "non-empty list of tool names (leave it out for all)"),
        ([{**DOCS, "tools": "search"}], "[0].tools", "non-empty list"),
        ([{**DOCS, "tools": ["web.search"]}], "[0].tools[0]", "1-64 of A-Z a-z 0-9 _ -"),
        ([{**DOCS, "tools": ["a", "a"]}], "[0].tools[1]", "'a' is listed twice"),
        ([{**DOCS, "prefix": "p" * 30, "tools": ["t" * 40]}], "[0].tools[0]", "longer than 64 characters"),
        ([{**DOCS, "timeout_seconds": 0}], "[0].timeout_seconds", "allowed: 1..300"),
        ([{**DOCS, "timeout_seconds": True}], "[0].timeout_seconds", "allowed: 1..300"),
        ([{**DOCS, "timeout_seconds": float("nan")}], "[0].timeout_seconds", "allowed: 1..300"),
        ([{**DOCS, "auth": "none"}], "[0].auth", 'expected {"type": ...} with a type of none, bearer'),
        ([{**DOCS, "auth": {"type": "basic"}}], "[0].auth", "a type of none, bearer, oauth, sigv4"),
        ([{**DOCS, "auth": {"type": "bearer"}}], "[0].auth.secret", "required"),
        (
            [{**DOCS, "auth": {"type": "bearer", "secret": "a b"}}],
            "[0].auth.secret",
            "Secrets Manager secret",
        ),
        (
            [{**DOCS, "auth": {"type": "bearer", "secret": "s", "token": "t"}}],
            "[0].auth.token",
            "unknown key",
        ),
        (
            [{**DOCS, "auth": {"type": "bearer", "secret": "s", "kms_key_arn": "alias/mine"}}],
            "[0].auth.kms_key_arn",
            "a KMS key ARN",
        ),
        ([{**DOCS, "auth": {"type": "oauth", "secret": "s"}}], "[0].auth.token_url", "required"),
        (
            [{**DOCS, "auth": {"type": "oauth", "secret": "s", "client_id": "c", "token_url": "ftp://x/t"}}],
            "[0].auth.token_url",
            "expected an https:// URL",
        ),
        (
            [
                {
                    **DOCS,
                    "auth": {
                        "type": "oauth",
                        "secret": "s",
                        "client_id": "c",
                        "token_url": "https://t.example/token",
                        "scopes": ["a b"],
                    },
                }
            ],
            "[0].auth.scopes[0]",
            "an OAuth scope (no space)",
        ),
        (
            [{**DOCS, "auth": {"type": "sigv4"}}],
            "[0].auth",
            "sigv4 signs for Amazon Bedrock AgentCore Gateway",
        ),
        (
            [{**DOCS, "url": GATEWAY, "auth": {"type": "sigv4", "region": "us-east-1"}}],
            "[0].auth.region",
            "names",
        ),
        (
            [{**DOCS, "url": "http://localhost:9/mcp", "auth": {"type": "sigv4"}}],
            "[0].auth.region",
            "required",
        ),
    ],
)
def test_each_problem_is_named_at_its_path(value: Any, path: str, text: str) -> None:
    found = problems(value)
    assert any(problem.path == path and text in problem.text for problem in found), found


def test_the_app_names_the_variable_and_the_path() -> None:
    environ = {
        contract.AGENT_ENDPOINT_NAME.variable: "endpoint",
        contract.AGENT_MCP_SERVERS.variable: '[{"name": "docs", "url": "http://docs.example.com/mcp"}]',
    }
    with pytest.raises(
        SettingsError, match=r"AGENT_MCP_SERVERS\[0\]\.url: got 'http://docs.example.com/mcp'"
    ):
        Settings.from_env(environ)


def test_unset_means_no_servers() -> None:
    assert Settings.from_env({contract.AGENT_ENDPOINT_NAME.variable: "endpoint"}).mcp_servers == ()
