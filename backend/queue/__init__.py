"""The queue: workers claim jobs with leases, heartbeat them and run them (backend.queue.worker)."""
