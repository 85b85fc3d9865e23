"""The typed client of deconfound's REST API (client/api.py): the dashboard, `reproduce --api`
and the tests call the API through it. It imports httpx and jobs.contracts only."""
from client.api import ApiClient, ApiError

__all__ = ["ApiClient", "ApiError"]
