"""The start/stop protocol of every local server (emulator, test servers, vLLM, agent API processes)."""

import abc
from types import TracebackType
from typing import Self


class Service(abc.ABC):
    """Something started and stopped; as a context manager it is stopped however the block ends."""

    @abc.abstractmethod
    def start(self) -> None:
        """Start it; return once it is ready, or raise."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop it and release what it holds; safe to call when it is not running."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
