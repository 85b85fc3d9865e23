"""JsonObject: a JSON object whose shape is open by design (a spec fragment, a grid point, a stored
spec read back, a method's diagnostic payload). pydantic validates it as JSON (no objects, no
NaN once strict JSON is asked for), and the OpenAPI schema says "object". Where a shape is fixed, a
model says it instead (jobs.contracts.*)."""
from __future__ import annotations

from pydantic import JsonValue

JsonObject = dict[str, JsonValue]
