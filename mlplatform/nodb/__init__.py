"""The database backend of a process started without DATABASE_URL: every query fails
with a message naming the setting, instead of Django's generic "supply the ENGINE"."""
