"""Start the serving engine the way SageMaker expects, and supervise it.

Reads the settings (`serve_settings`), fetches the Hugging Face token from Secrets Manager when
`SERVE_HF_TOKEN_SECRET` is set (boto3 is imported only then), starts the engine with the token in its
environment as `HF_TOKEN`, forwards SIGTERM/SIGINT to it and exits with its exit code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Any

from serve_contract import SERVE_HF_TOKEN_SECRET, VARIABLE_PREFIX
from serve_settings import SettingsError, engine_command, load_settings

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_TOKEN_KEYS = ("HF_TOKEN", "token", "hf_token")


class SecretError(RuntimeError):
    """The Hugging Face token could not be read; the message never holds the secret's value."""


def read_hf_token(secret_id: str, client: Any = None) -> str:
    """Return the token stored in Secrets Manager under `secret_id`.

    The secret is either the token itself or a JSON object with an `HF_TOKEN` (or `token`) key.
    `client` is a `secretsmanager` client; by default one is made with boto3's default chain.
    """
    # Imported here: boto3 is needed only when a secret is configured.
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        if client is None:
            import boto3

            client = boto3.client("secretsmanager")
        response = client.get_secret_value(SecretId=secret_id)
    except ImportError:
        raise SecretError(f"{SERVE_HF_TOKEN_SECRET} is set but boto3 is not installed in the image") from None
    except ClientError as error:
        details = error.response.get("Error", {})
        raise SecretError(
            f"cannot read {SERVE_HF_TOKEN_SECRET}={secret_id}: "
            f"{details.get('Code')}: {details.get('Message')}"
        ) from None
    except BotoCoreError as error:
        raise SecretError(f"cannot read {SERVE_HF_TOKEN_SECRET}={secret_id}: {error}") from None
    return _token_from(secret_id, response.get("SecretString"))


def _token_from(secret_id: str, secret: object) -> str:
    if not isinstance(secret, str) or not secret.strip():
        raise SecretError(f"{SERVE_HF_TOKEN_SECRET}={secret_id} has no text value (binary or empty secret)")
    text = secret.strip()
    if not text.startswith("{"):
        return text
    try:
        fields = json.loads(text)
    except json.JSONDecodeError:
        raise SecretError(f"{SERVE_HF_TOKEN_SECRET}={secret_id} looks like JSON but does not parse") from None
    for key in _TOKEN_KEYS:
        value = fields.get(key) if isinstance(fields, dict) else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    keys = " or ".join(_TOKEN_KEYS)
    raise SecretError(f"{SERVE_HF_TOKEN_SECRET}={secret_id} is a JSON object without a {keys} key")


class _SignalForwarder:
    """Signal handler that passes the signal on to the engine (or holds it until the engine starts)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.pending: int | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.process is None:
            self.pending = signum
        elif self.process.poll() is None:
            self.process.send_signal(signum)


def run_engine(command: Sequence[str], env: Mapping[str, str]) -> int:
    """Run the engine until it exits, forwarding SIGTERM/SIGINT; return a shell-style exit code."""
    forwarder = _SignalForwarder()
    previous = {signum: signal.signal(signum, forwarder) for signum in FORWARDED_SIGNALS}
    try:
        try:
            process = subprocess.Popen(list(command), env=dict(env))  # noqa: S603 - argv list, no shell
        except OSError as error:
            print(f"serve: cannot start the engine ({command[0]}): {error}", file=sys.stderr)
            return 127
        forwarder.process = process
        if forwarder.pending is not None:
            process.send_signal(forwarder.pending)
        code = process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code if code >= 0 else 128 - code


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of `serve`: validate, fetch the token, run the engine; return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args not in ([], ["serve"]):
        print(f"usage: serve  (settings come from {VARIABLE_PREFIX}* environment variables)", file=sys.stderr)
        return 2
    env = dict(os.environ if environ is None else environ)
    try:
        settings = load_settings(env)
        if settings.hf_token_secret is not None:
            env["HF_TOKEN"] = read_hf_token(settings.hf_token_secret)
    except (SettingsError, SecretError) as error:
        print(f"serve: {error}", file=sys.stderr)
        return 2
    command = engine_command(settings)
    print(f"serve: starting {settings.engine}: {' '.join(command)}", file=sys.stderr, flush=True)
    return run_engine(command, env)
