"""Everything a request handler needs, built once by the app factory's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from chat_auth.accounts import AccountStore
from chat_auth.browser import BrowserCookies
from chat_auth.issuer import AccessTokenIssuer
from chat_auth.metrics import AuthMetrics
from chat_auth.passwords import PasswordVault
from chat_auth.revoker import Revoker
from chat_auth.sessions import SessionStore
from chat_auth.settings import AuthSettings
from chat_auth.signing import KeyRing
from chat_auth.throttle import LoginThrottle, RegistrationThrottle
from chat_common.redis_client import RedisClient
from chat_common.tokens import TokenRules


@dataclass(frozen=True)
class AuthContext:
    settings: AuthSettings
    keys: KeyRing
    token_rules: TokenRules
    vault: PasswordVault
    accounts: AccountStore
    sessions: SessionStore
    throttle: LoginThrottle
    registrations: RegistrationThrottle
    issuer: AccessTokenIssuer
    revoker: Revoker
    cookies: BrowserCookies
    metrics: AuthMetrics
    redis: RedisClient
    pool: asyncpg.Pool
