"""Services: what the service does (submit and check jobs, build experiments, reuse, reproduce,
datasets), called by the routes (backend.api) and the CLI. They never import a route."""
