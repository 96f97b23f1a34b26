"""Local users, sessions and sign-in throttling of the appliance's web UI."""

from appliance.auth.models import Principal, Role, SessionInfo, User
from appliance.auth.passwords import Passwords
from appliance.auth.ratelimit import LoginLimiter
from appliance.auth.sessions import SessionStore
from appliance.auth.settings import AuthSettings
from appliance.auth.users import UserStore

__all__ = [
    "AuthSettings",
    "LoginLimiter",
    "Passwords",
    "Principal",
    "Role",
    "SessionInfo",
    "SessionStore",
    "User",
    "UserStore",
]
