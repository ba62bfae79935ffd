"""Operator tools against a real account: ``preflight`` before ``cdk deploy``, ``smoke`` and ``doctor`` after.

They use boto3 clients passed in (typed with the mypy-boto3 stubs) and import neither CDK nor the agent's web
framework; the environment's settings come from ``cdk.json`` through ``stacks.config``, pure Python.
"""
