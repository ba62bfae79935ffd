"""Authentication per environment (``api.auth``): IAM (dev) or Cognito (prod), on every method of the API."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore
import pytest

from stacks.agent_api.lambda_contract import contract
from stacks.config import ConfigError, parse_environment
from tests.infra.infra_support import (
    api_methods,
    cdk_context,
    deployed_values,
    only,
    resources,
    synthesize,
)
from tests.support.api_routes import COGNITO_ROUTES, PAGE_ROUTES, ROUTES

pytestmark = pytest.mark.infra

Lookup = Callable[[str], dict[str, Any]]
COGNITO_OUTPUTS = {"UserPoolId", "BrowserClientId", "MachineClientId", "LoginUrl", "TokenUrl"}


def environment(**api: Any) -> dict[str, Any]:
    """cdk.json's prod environment with ``api`` settings merged over its own."""
    raw = json.loads(json.dumps(cdk_context()["environments"]["prod"]))
    raw["api"] = {**raw["api"], **api}
    return dict(raw)


def logical_id(template: dict[str, Any], resource_type: str) -> str:
    (found,) = resources(template, resource_type)
    return found


def authorization(method: dict[str, Any]) -> tuple[Any, ...]:
    return (method["AuthorizationType"], method.get("AuthorizerId"), method.get("AuthorizationScopes"))


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_the_api_routes_the_chat_page_and_its_config_to_anyone(template: Lookup, environment: str) -> None:
    found = api_methods(template(environment))
    assert found.keys() == {*ROUTES, *PAGE_ROUTES, *(COGNITO_ROUTES if environment == "prod" else [])}
    for route in PAGE_ROUTES:
        # The browser loads them before it can sign in (and cannot sign SigV4 at all).
        assert authorization(found[route]) == ("NONE", None, None)
        # Served by the agent function, as /chat is.
        assert found[route]["Integration"] == found[(contract.CHAT_PATH, "POST")]["Integration"]


def test_cdk_json_ships_one_environment_of_each_auth_mode() -> None:
    environments = cdk_context()["environments"]
    modes = {name: parse_environment(name, raw).api.auth for name, raw in environments.items()}
    assert modes == {"dev": "iam", "prod": "cognito"}


def test_iam_environment_signs_every_api_method_and_makes_no_user_pool(template: Lookup) -> None:
    dev = template("dev")
    found = api_methods(dev)
    assert {route: authorization(found[route]) for route in ROUTES} == dict.fromkeys(
        ROUTES, ("AWS_IAM", None, None)
    )
    assert [r["Type"] for r in dev["Resources"].values() if r["Type"].startswith("AWS::Cognito::")] == []
    assert resources(dev, "AWS::ApiGateway::Authorizer") == {}
    assert COGNITO_OUTPUTS.isdisjoint(dev["Outputs"])


def test_cognito_environment_authorizes_every_api_method_with_an_access_token_scope(template: Lookup) -> None:
    prod = template("prod")
    authorizer = only(prod, "AWS::ApiGateway::Authorizer")
    assert authorizer["Type"] == "COGNITO_USER_POOLS"
    assert authorizer["IdentitySource"] == "method.request.header.Authorization"
    assert authorizer["ProviderARNs"] == [{"Fn::GetAtt": [logical_id(prod, "AWS::Cognito::UserPool"), "Arn"]}]
    authorizer_id = logical_id(prod, "AWS::ApiGateway::Authorizer")
    found = api_methods(prod)
    assert {route: authorization(found[route]) for route in ROUTES} == dict.fromkeys(
        ROUTES, ("COGNITO_USER_POOLS", {"Ref": authorizer_id}, [contract.COGNITO_API_SCOPE])
    )


def test_method_scopes_make_api_gateway_take_access_tokens_not_id_tokens() -> None:
    # The reason every method names a scope: an OpenAI client's "API key" is an access token.
    model_file = Path(botocore.__file__).parent / "data" / "apigateway" / "2015-07-09" / "service-2.json.gz"
    model = json.loads(gzip.decompress(model_file.read_bytes()))
    documentation = model["shapes"]["Method"]["members"]["authorizationScopes"]["documentation"]
    assert "the client must provide an access token instead of an identity token" in documentation


def test_the_api_scope_is_the_resource_servers_own(template: Lookup) -> None:
    prod = template("prod")
    server = only(prod, "AWS::Cognito::UserPoolResourceServer")
    assert server["Identifier"] == contract.COGNITO_RESOURCE_SERVER
    assert [scope["ScopeName"] for scope in server["Scopes"]] == [contract.COGNITO_INVOKE_SCOPE]


def test_user_pool_requires_totp_mfa_strong_passwords_and_enforces_threat_protection(
    template: Lookup,
) -> None:
    pool = only(template("prod"), "AWS::Cognito::UserPool")
    assert pool["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert (pool["MfaConfiguration"], pool["EnabledMfas"]) == ("ON", ["SOFTWARE_TOKEN_MFA"])
    assert pool["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 12,
        "RequireLowercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
        "RequireUppercase": True,
    }
    assert (pool["UserPoolTier"], pool["UserPoolAddOns"]) == ("PLUS", {"AdvancedSecurityMode": "ENFORCED"})
    assert pool["UsernameAttributes"] == ["email"]


def test_retained_user_pool_is_deletion_protected(template: Lookup, tmp_path: Path) -> None:
    prod = template("prod")
    (pool,) = resources(prod, "AWS::Cognito::UserPool").values()
    # Retain, not RetainExceptOnCreate: CloudFormation cannot delete a protected pool, not even on the
    # rollback of the create that made it (tests/infra/test_infra_updates.py).
    assert (pool["DeletionPolicy"], pool["Properties"]["DeletionProtection"]) == ("Retain", "ACTIVE")
    scratch = synthesize(
        tmp_path, env="scratch", environments={"scratch": {**environment(), "retain_data": False}}
    )
    (pool,) = resources(scratch.templates["SageMakerAgent-scratch"], "AWS::Cognito::UserPool").values()
    assert (pool["DeletionPolicy"], pool["Properties"]["DeletionProtection"]) == ("Delete", "INACTIVE")


def browser_and_machine_clients(template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    clients = [c["Properties"] for c in resources(template, "AWS::Cognito::UserPoolClient").values()]
    (browser,) = [c for c in clients if not c["GenerateSecret"]]
    (machine,) = [c for c in clients if c["GenerateSecret"]]
    return browser, machine


def scope_ref(template: dict[str, Any]) -> dict[str, Any]:
    server = logical_id(template, "AWS::Cognito::UserPoolResourceServer")
    return {"Fn::Join": ["", [{"Ref": server}, f"/{contract.COGNITO_INVOKE_SCOPE}"]]}


def test_browser_client_is_public_with_the_code_flow_back_to_the_apis_page(template: Lookup) -> None:
    prod = template("prod")
    browser, _ = browser_and_machine_clients(prod)
    assert browser["AllowedOAuthFlows"] == ["code"]
    assert browser["AllowedOAuthScopes"] == ["openid", "email", scope_ref(prod)]
    api = logical_id(prod, "AWS::ApiGateway::RestApi")
    page = {
        "Fn::Join": [
            "",
            [
                "https://",
                {"Ref": api},
                ".execute-api.",
                {"Ref": "AWS::Region"},
                ".",
                {"Ref": "AWS::URLSuffix"},
                "/v1/",
            ],
        ]
    }
    assert (browser["CallbackURLs"], browser["LogoutURLs"]) == ([page], [page])
    assert browser["SupportedIdentityProviders"] == ["COGNITO"]


def test_machine_client_gets_only_the_api_scope_by_client_credentials(template: Lookup) -> None:
    prod = template("prod")
    _, machine = browser_and_machine_clients(prod)
    assert machine["AllowedOAuthFlows"] == ["client_credentials"]
    assert machine["AllowedOAuthScopes"] == [scope_ref(prod)]


def test_managed_login_domain_is_named_after_stack_and_account_with_a_style(template: Lookup) -> None:
    prod = template("prod")
    domain = only(prod, "AWS::Cognito::UserPoolDomain")
    assert domain["Domain"] == {"Fn::Join": ["", ["sagemakeragent-prod-", {"Ref": "AWS::AccountId"}]]}
    assert domain["ManagedLoginVersion"] == 2
    branding = only(prod, "AWS::Cognito::ManagedLoginBranding")
    browser_id = [
        key
        for key, client in resources(prod, "AWS::Cognito::UserPoolClient").items()
        if not client["Properties"]["GenerateSecret"]
    ]
    assert (branding["ClientId"], branding["UseCognitoProvidedValues"]) == ({"Ref": browser_id[0]}, True)


def test_cognito_environment_outputs_pool_clients_login_and_token_urls(template: Lookup) -> None:
    prod = template("prod")
    outputs = {name: output["Value"] for name, output in prod["Outputs"].items()}
    assert outputs.keys() >= COGNITO_OUTPUTS
    login = "https://sagemakeragent-prod-123456789012.auth.us-east-1.amazoncognito.com"
    assert deployed_values(outputs["LoginUrl"], prod, "SageMakerAgent-prod") == login
    assert deployed_values(outputs["TokenUrl"], prod, "SageMakerAgent-prod") == f"{login}/oauth2/token"


def test_configured_domain_prefix_and_redirect_urls_replace_the_defaults(tmp_path: Path) -> None:
    api = {
        "auth_domain_prefix": "team-agent",
        "auth_callback_urls": "https://chat.example.com/, http://localhost:3000/callback",
        "auth_logout_urls": "https://chat.example.com/bye",
    }
    synthesized = synthesize(tmp_path, env="team", environments={"team": environment(**api)})
    template = synthesized.templates["SageMakerAgent-team"]
    assert only(template, "AWS::Cognito::UserPoolDomain")["Domain"] == "team-agent"
    browser, _ = browser_and_machine_clients(template)
    assert browser["CallbackURLs"] == ["https://chat.example.com/", "http://localhost:3000/callback"]
    assert browser["LogoutURLs"] == ["https://chat.example.com/bye"]


def config_error(**api: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_environment("team", environment(**api))
    return str(caught.value)


def test_unknown_auth_mode_names_the_modes() -> None:
    assert "api.auth: got 'jwt'; allowed: 'iam' (SigV4-signed requests) or 'cognito'" in config_error(
        auth="jwt"
    )


@pytest.mark.parametrize("key", ["auth_domain_prefix", "auth_callback_urls", "auth_logout_urls"])
def test_cognito_settings_are_refused_under_iam(key: str) -> None:
    value = "team-agent" if key == "auth_domain_prefix" else "https://chat.example.com/"
    assert f"api.{key}: only allowed with api.auth 'cognito'" in config_error(auth="iam", **{key: value})


@pytest.mark.parametrize("prefix", ["Team", "-team", "team-", "a" * 64, "team.agent"])
def test_domain_prefix_follows_cognitos_rule(prefix: str) -> None:
    assert "api.auth_domain_prefix: got" in config_error(auth_domain_prefix=prefix)


@pytest.mark.parametrize(
    "url",
    [
        "http://chat.example.com/",  # plain http beyond the local hosts
        "https://chat.example.com/#signed-in",  # a fragment
        "chat.example.com/callback",  # not absolute
        "https://chat.example.com:99999/",  # no such port
        "https://chat example.com/",
    ],
)
def test_redirect_urls_follow_cognitos_rules(url: str) -> None:
    assert "api.auth_callback_urls: got" in config_error(auth_callback_urls=f"https://ok.example.com/,{url}")
    assert "api.auth_logout_urls: got" in config_error(auth_logout_urls=url)


@pytest.mark.parametrize("url", ["http://localhost:8000/", "http://127.0.0.1/", "http://[::1]:5173/cb"])
def test_plain_http_is_allowed_for_local_hosts_only(url: str) -> None:
    assert parse_environment("team", environment(auth_callback_urls=url)).api.auth_callback_urls == url


def test_under_cognito_mcp_clients_discover_the_sign_in_from_the_401_and_the_metadata(
    template: Lookup,
) -> None:
    prod = template("prod")
    found = api_methods(prod)
    # The metadata is read before a client has a token (RFC 9728; the MCP authorization specification).
    [route] = COGNITO_ROUTES
    assert authorization(found[route]) == ("NONE", None, None)
    assert found[route]["Integration"] == found[(contract.CHAT_PATH, "POST")]["Integration"]
    # API Gateway's own 401 (the Cognito authorizer's, before the app runs) names where the metadata is.
    response = only(prod, "AWS::ApiGateway::GatewayResponse")
    assert (response["ResponseType"], response["StatusCode"]) == ("UNAUTHORIZED", "401")
    challenge = deployed_values(
        response["ResponseParameters"]["gatewayresponse.header.WWW-Authenticate"], prod, "SageMakerAgent-prod"
    )
    assert challenge == (
        "'Bearer resource_metadata=\"https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1"
        f'{contract.PROTECTED_RESOURCE_METADATA_PATH}", scope="{contract.COGNITO_API_SCOPE}"\''
    )


def test_under_iam_there_is_no_oauth_to_discover(template: Lookup) -> None:
    dev = template("dev")
    assert resources(dev, "AWS::ApiGateway::GatewayResponse") == {}


def test_unauthorized_is_a_gateway_response_type_api_gateway_knows() -> None:
    model_file = Path(botocore.__file__).parent / "data" / "apigateway" / "2015-07-09" / "service-2.json.gz"
    model = json.loads(gzip.decompress(model_file.read_bytes()))
    assert "UNAUTHORIZED" in model["shapes"]["GatewayResponseType"]["enum"]
