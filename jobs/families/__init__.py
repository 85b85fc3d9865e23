"""Model families: each a small declared adapter (family.py, declared.py), a generic path for the
rest (generic.py), and the layout a loaded model resolves to (layout.py), which the classifier
(jobs.models) pools by and the influence scopes (jobs.influence.scope) select parameters by."""
from jobs.families.declared import BY_MODEL_TYPE, FAMILIES
from jobs.families.family import POOLINGS, Family, Kind, Pooling
from jobs.families.layout import GENERIC, Layout, resolve

__all__ = ["BY_MODEL_TYPE", "FAMILIES", "GENERIC", "POOLINGS", "Family", "Kind", "Layout", "Pooling", "resolve"]
