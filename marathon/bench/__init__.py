"""Benchmarks of the server from separate processes: `marathon bench NAME`."""
