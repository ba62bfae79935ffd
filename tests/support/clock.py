"""A clock the test moves by hand (``clock.now += 10``), for code that takes a ``clock`` callable."""


class ManualClock:
    """Returns ``now`` when called; starts at ``start``."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now
