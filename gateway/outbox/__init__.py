"""The durable outbox between pipelines and the publisher."""

from gateway.outbox.floor import ClockUntrusted
from gateway.outbox.quota import QuotaPolicy, RamQueue
from gateway.outbox.store import Draft, Outbox, Row

__all__ = ["ClockUntrusted", "Draft", "Outbox", "QuotaPolicy", "RamQueue", "Row"]
