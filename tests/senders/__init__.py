"""Tests of the senders against the loopback peers; shared helpers."""

from __future__ import annotations

from dataclasses import dataclass, field


class DictMedia:
    """A MediaCache in a dict (the store keeps it in Redis), shared by several senders."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value


@dataclass
class PartLog:
    """Records what a sender reports through `SendContext.on_part`."""

    parts: list[tuple[int, str]] = field(default_factory=list)

    async def __call__(self, index: int, platform_id: str) -> None:
        self.parts.append((index, platform_id))


@dataclass
class ThrottleLog:
    """A throttle that lets everything through and remembers who asked."""

    chats: list[str] = field(default_factory=list)
    consecutive: list[bool] = field(default_factory=list)

    async def before_send(self, chat: str, consecutive: bool = False) -> None:
        self.chats.append(chat)
        self.consecutive.append(consecutive)
