"""One job across processes and machines: local worker processes, and Redis as the coordinator."""
