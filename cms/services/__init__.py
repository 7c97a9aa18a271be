"""Services: plain async functions over a session. No HTTP objects in here."""
