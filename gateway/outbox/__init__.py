"""The durable outbox between pipelines and the publisher."""

from gateway.outbox.quota import QuotaPolicy
from gateway.outbox.store import Draft, Outbox, Row

__all__ = ["Draft", "Outbox", "QuotaPolicy", "Row"]
