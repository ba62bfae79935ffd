"""What happens to stateful resources (data, logs, keys) when a stack is deleted, updated or rolled back.

Whatever CloudFormation may have to delete must be deletable, or the rollback of a failed first deploy ends
in ``ROLLBACK_FAILED``: an ECR repository holding images is emptied first (``EmptyOnDelete``), and a
resource whose deletion protection CloudFormation cannot lift is never deleted at all
(:func:`protected_removal_policy`). docs/deploy.md, "A failed first deploy", has the whole list.
"""

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


def protected_removal_policy(retain: bool) -> RemovalPolicy:
    """``RETAIN`` for a resource whose own deletion protection is on where data is kept, else ``DESTROY``.

    CloudFormation cannot delete such a resource, not even the one a failed first create just made (a
    Cognito user pool with ``DeletionProtection: ACTIVE`` refuses DeleteUserPool with an
    InvalidParameterException until an UpdateUserPool turns protection off: "User pool deletion protection",
    Amazon Cognito Developer Guide), so ``RetainExceptOnCreate`` would end that rollback in
    ``ROLLBACK_FAILED``. ``Retain`` lets the rollback complete and leaves the new, empty resource behind; it
    has no fixed name, so a retry creates another beside it.
    """
    return RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
