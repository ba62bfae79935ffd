"""After a deploy, is the environment healthy, and why: ``python -m ops.doctor --env dev`` (``make doctor``).

Read-only calls only. It reads the stack (status, and what it deployed), the endpoint and the inference
component (status, instances, copies), the agent function (state, reserved concurrency), every scalable
target with its policies, their alarms and their recent activities (did scale-in and scale-out happen when the
alarms said so?), the watching alarms (state, history, whether their topics have a confirmed subscriber), and
the newest error lines of the model's and the function's logs. Each finding says what to do. Exit status: 0
healthy (warnings allowed), 1 unhealthy or unknown, 2 when it cannot run (no credentials, no region, a bad
environment name).

- ``findings``: a finding, the report and the verdict;
- ``account``: the clients, the time window and the reads several checks share;
- ``stack``: the stack's status and the resources the other checks start from;
- ``serving``: endpoint and inference component;
- ``scaling``: scalable targets, policies, their alarms and activities;
- ``alarms``: the watching alarms and their subscribers;
- ``logs``: the function's state and the newest error lines;
- ``diagnose``: the checks in order, each failing on its own.
"""
