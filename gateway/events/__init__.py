"""Events: the CloudEvents envelope, ids and the per-type payload classes."""
