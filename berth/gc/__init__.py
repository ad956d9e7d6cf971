"""Online, incremental garbage collection (see berth.gc.services for the protocol)."""
