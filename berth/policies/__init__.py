"""Repository and namespace policies: tag immutability and auto-pruning."""
