"""Login throttling in Redis, per username and per client IP (fixed windows of failed attempts).

An attempt is counted before the password is checked, so a burst of parallel guesses cannot all
slip in before the first failure is recorded; a successful login takes its count back.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from redis.asyncio import Redis

# For each key: INCR, start the window on the first attempt, answer the count and the time left.
_COUNT_ATTEMPT = """
local answer = {}
for _, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then redis.call('PEXPIRE', key, ARGV[1]); ttl = tonumber(ARGV[1]) end
  table.insert(answer, count)
  table.insert(answer, ttl)
end
return answer
"""

# Takes one attempt back, but never creates a counter (it would have no expiry).
_UNCOUNT_ATTEMPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('DECR', KEYS[1]) end
redis.call('DEL', KEYS[2])
return 0
"""


class LoginThrottledError(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many login attempts; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class LoginAttempt:
    user_key: str
    ip_key: str


class LoginThrottle:
    def __init__(
        self, redis: Redis, *, per_user: int, per_ip: int, window_s: int, prefix: str = "auth"
    ) -> None:
        self._per_user = per_user
        self._per_ip = per_ip
        self._window_ms = window_s * 1000
        self._prefix = prefix
        self._count = redis.register_script(_COUNT_ATTEMPT)
        self._uncount = redis.register_script(_UNCOUNT_ATTEMPT)

    async def begin(self, username: str, client_ip: str) -> LoginAttempt:
        """Count an attempt, or raise ``LoginThrottledError`` when either limit is reached."""
        attempt = LoginAttempt(self._key("user", username), self._key("ip", client_ip))
        user_count, user_ttl_ms, ip_count, ip_ttl_ms = await self._count(
            keys=[attempt.user_key, attempt.ip_key], args=[self._window_ms]
        )
        waits = []
        if int(user_count) > self._per_user:
            waits.append(int(user_ttl_ms))
        if int(ip_count) > self._per_ip:
            waits.append(int(ip_ttl_ms))
        if waits:
            raise LoginThrottledError(max(1, math.ceil(max(waits) / 1000)))
        return attempt

    async def succeeded(self, attempt: LoginAttempt) -> None:
        # The right password ends the guessing on this account; the address keeps its history
        # minus this attempt, so a shared NAT address is not blamed for its users' logins.
        await self._uncount(keys=[attempt.ip_key, attempt.user_key])

    def _key(self, kind: str, value: str) -> str:
        # Hashed: usernames and addresses of any length and alphabet make fixed, safe keys.
        digest = hashlib.sha256(value.encode()).hexdigest()[:32]
        return f"{self._prefix}:login-attempts:{kind}:{digest}"
