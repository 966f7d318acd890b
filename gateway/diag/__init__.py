"""The local status socket and its client, for `storegw status` and `storegw tail`."""
