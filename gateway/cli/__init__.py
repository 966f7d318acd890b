"""The `storegw` command line: one module per verb family, each with `register(subparsers)`."""
