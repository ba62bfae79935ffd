"""Cognito sign-in for the agent API (``api.auth: cognito``): user pool, managed login, clients, authorizer.

API Gateway's Cognito authorizer for REST APIs takes an ID token when a method names no OAuth scopes and an
access token when it does: "When the method scope is configured, the client must provide an access token
instead of an identity token" (botocore's apigateway model, Method.authorizationScopes). Every method here
names the API's own scope, so the one kind of token that works is an access token carrying it, whether a
person signed in through managed login (authorization code with PKCE) or a program used client credentials.
Clients send it as a bearer token in the ``Authorization`` header ("add them as bearer tokens to an
Authorization header", https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-accessing-resources-api-gateway-and-lambda.html),
which is what OpenAI clients do with their API key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Aws
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from stacks.agent_api.lambda_contract import contract, setting_kinds
from stacks.removal import protected_removal_policy

PASSWORD_MIN_LENGTH = 12


class CognitoSignIn(Construct):
    """A user pool with a managed-login domain, a browser client, a machine client and the API's authorizer.

    People are created by an administrator (no self sign-up), sign in with their e-mail address, a strong
    password and a TOTP authenticator app (MFA required), and the pool runs threat protection (Plus plan).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain_prefix: str,
        callback_urls: Sequence[str],
        logout_urls: Sequence[str],
        retain: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "Users",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=PASSWORD_MIN_LENGTH,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
            ),
            # TOTP only: SMS would need an SNS role, a sandbox exit and a per-message cost. Managed login
            # walks a user through registering an authenticator app (a QR code) when the pool requires TOTP
            # (https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-settings-mfa-totp.html).
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            # Plus is the plan with threat protection: compromised-credential checks and adaptive
            # authentication, enforced (FULL_FUNCTION) rather than only reported (AUDIT_ONLY). MFA stays
            # required on every sign-in; AWS suggests OPTIONAL MFA only where adaptive authentication should
            # decide when to ask for it (botocore's SetUserPoolMfaConfig), a weaker rule than always.
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            # A retained pool keeps its users: deletion protection stops a stray delete-user-pool too, and the
            # removal policy is the one CloudFormation can honour for a protected pool (stacks/removal.py).
            deletion_protection=retain,
            removal_policy=protected_removal_policy(retain),
        )
        invoke = cognito.ResourceServerScope(
            scope_name=contract.COGNITO_INVOKE_SCOPE, scope_description="Call the agent API"
        )
        server = self.user_pool.add_resource_server(
            "Api", identifier=contract.COGNITO_RESOURCE_SERVER, scopes=[invoke]
        )
        api_scope = cognito.OAuthScope.resource_server(server, invoke)
        # What the chat page asks for: its user's identity, and the scope the API checks.
        self.browser_scopes = [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, api_scope]
        self.domain = self.user_pool.add_domain(
            "Login",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix),
            managed_login_version=cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
        )
        # A public client (no secret: a browser cannot keep one). Cognito checks the PKCE code verifier of
        # every authorization code requested with a code challenge; the chat page always sends one.
        self.browser_client = self.user_pool.add_client(
            "Browser",
            generate_secret=False,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=self.browser_scopes,
                callback_urls=list(callback_urls),
                logout_urls=list(logout_urls),
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
        )
        # Managed login (version 2) draws a client's pages from its style (the branding designer's settings,
        # https://docs.aws.amazon.com/cognito/latest/developerguide/managed-login-branding.html): Cognito's.
        style = cognito.CfnManagedLoginBranding(
            self,
            "LoginStyle",
            user_pool_id=self.user_pool.user_pool_id,
            client_id=self.browser_client.user_pool_client_id,
            use_cognito_provided_values=True,
        )
        style.node.add_dependency(self.domain)
        # Programs (an OpenAI client, a scheduled job): client id and secret for an access token.
        self.machine_client = self.user_pool.add_client(
            "Machine",
            generate_secret=True,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(client_credentials=True), scopes=[api_scope]
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
        )
        self.authorizer = apigateway.CognitoUserPoolsAuthorizer(
            self,
            "Authorizer",
            cognito_user_pools=[self.user_pool],
            identity_source=apigateway.IdentitySource.header("Authorization"),
        )

    @property
    def login_url(self) -> str:
        """The managed-login domain's origin (its ``/oauth2/authorize`` starts the browser flow)."""
        return self.domain.base_url()

    @property
    def issuer(self) -> str:
        """The user pool's OpenID Connect issuer, which MCP clients discover as the authorization server.

        A pool's "original" issuer is ``https://cognito-idp.[region].amazonaws.com/[userPoolId]``
        (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_IssuerConfigurationType.html);
        its OpenID configuration is at the issuer's ``/.well-known/openid-configuration``.
        """
        return f"https://cognito-idp.{Aws.REGION}.{Aws.URL_SUFFIX}/{self.user_pool.user_pool_id}"

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint: client credentials, and the browser flow's code exchange."""
        return f"{self.login_url}/oauth2/token"

    def method_options(self) -> dict[str, Any]:
        """Return what every method of the API sets: this authorizer, and the scope tokens must carry."""
        return {
            "authorization_type": apigateway.AuthorizationType.COGNITO,
            "authorizer": self.authorizer,
            "authorization_scopes": [contract.COGNITO_API_SCOPE],
        }

    def function_settings(self) -> dict[setting_kinds.Setting, str]:
        """Return the sign-in settings, the settings table's ``AGENT_COGNITO_*`` rows."""
        return {
            contract.AGENT_COGNITO_DOMAIN: self.login_url,
            contract.AGENT_COGNITO_CLIENT_ID: self.browser_client.user_pool_client_id,
            contract.AGENT_COGNITO_SCOPE: " ".join(scope.scope_name for scope in self.browser_scopes),
            contract.AGENT_COGNITO_ISSUER: self.issuer,
        }
