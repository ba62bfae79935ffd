"""``python -m ops.doctor --env dev``: the doctor's command line (``make doctor ENV=dev``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ops.doctor import __doc__ as _about
from ops.doctor.account import Account, make_clients
from ops.doctor.diagnose import diagnose
from ops.doctor.findings import duration, report, when
from ops.environment import load_environment
from stacks.config import ConfigError, EnvironmentConfig

# CloudWatch keeps an alarm's history for 30 days; Application Auto Scaling its activities for six weeks.
MAX_HOURS = 30 * 24
_CREDENTIALS = (
    "configure credentials (aws configure, aws sso login, or AWS_PROFILE) and run make doctor again"
)


def _hours(text: str) -> int:
    hours = int(text)
    if not 1 <= hours <= MAX_HOURS:
        raise argparse.ArgumentTypeError(f"from 1 to {MAX_HOURS} hours")
    return hours


def run(config: EnvironmentConfig, account: Account, out: Callable[[str], object] = print) -> int:
    """Check the credentials, then report every finding and the verdict; the exit status."""
    try:
        identity = account.clients.sts.get_caller_identity()
    except NoCredentialsError:
        print(f"error: no AWS credentials found: {_CREDENTIALS}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"error: the AWS credentials do not work ({error}): {_CREDENTIALS}", file=sys.stderr)
        return 2
    if config.account is not None and identity["Account"] != config.account:
        print(
            f"error: the credentials are for account {identity['Account']}, the environment "
            f"{config.name} is in {config.account}: use credentials of {config.account}",
            file=sys.stderr,
        )
        return 2
    out(
        f"Doctor of {config.stack_name} (account {identity['Account']}, {account.clients.region}): the last "
        f"{duration(account.window)}, to {when(account.now)}"
    )
    verdict = report(diagnose(config, account), out)
    out(f"\n{verdict}")
    return verdict.exit_status


def main(argv: list[str] | None = None) -> int:
    """Diagnose one environment of cdk.json; 0 healthy, 1 unhealthy or unknown, 2 cannot run."""
    parser = argparse.ArgumentParser(prog="python -m ops.doctor", description=(_about or "").splitlines()[0])
    parser.add_argument("--env", default="dev", help="environment of cdk.json (default: dev)")
    parser.add_argument(
        "--hours", type=_hours, default=24, help=f"how far back to read history (1-{MAX_HOURS}, default 24)"
    )
    args = parser.parse_args(argv)
    try:
        config = load_environment(args.env)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        import boto3

        region = config.region or boto3.session.Session().region_name
        if region is None:
            print(
                "error: no AWS region: set AWS_DEFAULT_REGION or the environment's region in cdk.json",
                file=sys.stderr,
            )
            return 2
        clients = make_clients(region)
    except BotoCoreError as error:  # a named profile that does not exist, a broken config file...
        print(f"error: {error}: {_CREDENTIALS}", file=sys.stderr)
        return 2
    account = Account(clients, now=datetime.now(UTC), window=timedelta(hours=args.hours))
    return run(config, account)


if __name__ == "__main__":
    sys.exit(main())
