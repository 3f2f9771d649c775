"""The local stack: an embedded PostgreSQL, the Resend sandbox, servers in threads and in
processes of their own, and how they start and stop on one laptop."""
