"""/api/v1 adapter of build triggers, and the push webhook and setup routes."""
