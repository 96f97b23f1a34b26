"""Runtime overrides of the settings file: zones and settings sections changed from the UI.

They are stored in the appliance's SQLite key-value table, replace the file's values at every
start (`apply_stored`), and are applied to the running components when they change.
"""

from appliance.overrides.errors import OverrideError, OverrideRejected
from appliance.overrides.store import SECTIONS, Overrides, Section, apply_stored

__all__ = ["SECTIONS", "OverrideError", "OverrideRejected", "Overrides", "Section", "apply_stored"]
