"""The fleet scenario (issue 12): a three-node NATS cluster, a hundred real daemons, a node loss, remote configs."""
