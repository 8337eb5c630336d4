"""The cluster command (tooling only: no service of ours imports it)."""
