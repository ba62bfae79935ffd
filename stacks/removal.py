"""What happens to stateful resources (data, logs, keys) when a stack is deleted, updated or rolled back."""

from __future__ import annotations

from aws_cdk import RemovalPolicy


def removal_policy(retain: bool) -> RemovalPolicy:
    """``RETAIN_ON_UPDATE_OR_DELETE`` for data an environment keeps, else ``DESTROY``.

    Plain ``RETAIN`` would also keep a resource whose first create rolled back, and a resource with a fixed
    name (a log group) would then make the retry fail with "already exists". ``RETAIN_ON_UPDATE_OR_DELETE``
    renders ``DeletionPolicy: RetainExceptOnCreate`` (CloudFormation deletes what a failed create made) and
    ``UpdateReplacePolicy: Retain`` (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/
    aws-attribute-deletionpolicy.html).
    """
    return RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if retain else RemovalPolicy.DESTROY
