"""The contracts between the layers: typed bodies, answers, enums and results that the engine (jobs/),
the service (backend/) and the dashboard all import. Pure pydantic: importing them loads no torch,
no SQL and no HTTP server."""
