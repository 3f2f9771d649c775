"""The service: what the API needs to do a registration's work (database, email, queue, the
state of a confirmation, the status watcher) and its deployment settings and limits."""
