"""Handlers of writes: creates, patches, deletes, workflow steps, preview links."""
