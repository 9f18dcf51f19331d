"""Login and registration throttling in Redis, in fixed windows of counted attempts.

Failed logins are counted per username and address, per address, and per username from every
address. The first two refuse (429) until their window ends, so no one address guesses on and
on. The third never refuses for good, which would let anyone lock anyone out: it paces the
username instead, one password check per ``pace_s``, in turns handed out in order to the
addresses that ask. Guessing from many addresses becomes slow, and the owner, asking from an
address of their own, gets in after the turns already given out.

Under a Redis Cluster every throttle key carries the prefix as its hash tag (``{auth}:...``):
an attempt's five keys mix an address's counts and a username's, which no tag of either kind
puts in one slot, and the script that checks and counts them must stay one atomic step (two
parallel guesses must never both pass the last allowed count). Logins are rare next to
messages, so one slot carries them all.

An attempt is counted before the password is checked, so a burst of parallel guesses cannot
all slip in before the first failure is recorded; a successful login takes its count back.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass

from chat_common.redis_client import KeyLayout, RedisClient

# A client told to come back in N seconds may come a little late (timers, a slow network);
# its turn waits this long past its time before it is lost.
TURN_GRACE_MS = 30_000

# KEYS: 1 failures of the username at this address, 2 of the address, 3 of the username,
#       4 the username's next free turn (unix ms), 5 the turn given to this username+address.
# ARGV: 1 window ms, 2-4 the limits of KEYS 1-3, 5 pace ms, 6 turn grace ms.
# Answers {admitted 1|0, ms to wait, paced 1|0}; an admitted attempt is counted in KEYS 1-3.
_BEGIN_ATTEMPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local window = tonumber(ARGV[1])
local function count(key) return tonumber(redis.call('GET', key) or '0') end
local function left(key) return math.max(redis.call('PTTL', key), 1) end
if count(KEYS[2]) >= tonumber(ARGV[3]) then return {0, left(KEYS[2]), 0} end
if count(KEYS[1]) >= tonumber(ARGV[2]) then return {0, left(KEYS[1]), 0} end
local paced = 0
if count(KEYS[3]) >= tonumber(ARGV[4]) then
  paced = 1
  local pace = tonumber(ARGV[5])
  local turn = tonumber(redis.call('GET', KEYS[5]) or '-1')
  if turn < 0 then
    turn = math.max(now, tonumber(redis.call('GET', KEYS[4]) or '0'))
    redis.call('SET', KEYS[4], turn + pace, 'PX', turn + pace - now + window)
    redis.call('SET', KEYS[5], turn, 'PX', turn - now + tonumber(ARGV[6]))
  end
  if turn > now then return {0, turn - now, 1} end
  redis.call('DEL', KEYS[5])
end
for i = 1, 3 do
  redis.call('INCR', KEYS[i])
  if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], window) end
end
return {1, 0, paced}
"""

# KEYS: 1-3 as above. After the right password: clears the count of the username at this
# address, takes the attempt back from the others. Never creates a counter without expiry.
_SUCCEEDED = """
redis.call('DEL', KEYS[1])
for i = 2, 3 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
"""

# KEYS: 1 a counter. ARGV: 1 window ms. Counts one, starts the window on the first; answers
# the count and the ms left.
_COUNT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
"""


class ThrottledError(Exception):
    def __init__(self, message: str, wait_ms: int, *, paced: bool = False) -> None:
        self.retry_after_s = max(1, math.ceil(wait_ms / 1000))
        super().__init__(f"{message}; try again in {self.retry_after_s} s")
        self.paced = paced


@dataclass(frozen=True)
class LoginAttempt:
    # The counts of the username at the address, of the address, of the username.
    keys: tuple[str, str, str]


def client_network(address: str, ipv6_prefix: int) -> str:
    """What one client is counted as: its IPv4 address, or its IPv6 address's network."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))
    return str(ip)


def _key(prefix: str, kind: str, *parts: str) -> str:
    # Hashed: usernames and addresses of any length and alphabet make fixed, safe keys.
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
    return f"{prefix}:{kind}:{digest}"


def _prefix(redis: RedisClient, prefix: str) -> str:
    return KeyLayout.of(redis).tag(prefix)


class LoginThrottle:
    def __init__(
        self,
        redis: RedisClient,
        *,
        per_user_address: int,
        per_address: int,
        per_user: int,
        pace_s: int,
        window_s: int,
        ipv6_prefix: int,
        prefix: str = "auth",
    ) -> None:
        self._limits = (per_user_address, per_address, per_user)
        self._pace_ms = pace_s * 1000
        self._window_ms = window_s * 1000
        self._ipv6_prefix = ipv6_prefix
        self._prefix = _prefix(redis, prefix)
        self._begin = redis.register_script(_BEGIN_ATTEMPT)
        self._succeeded = redis.register_script(_SUCCEEDED)

    async def begin(self, username: str, client_ip: str) -> LoginAttempt:
        """Count an attempt, or raise ``ThrottledError`` with the time to wait."""
        network = client_network(client_ip, self._ipv6_prefix)
        keys = (
            _key(self._prefix, "login-failures:user-address", username, network),
            _key(self._prefix, "login-failures:address", network),
            _key(self._prefix, "login-failures:user", username),
        )
        pace = _key(self._prefix, "login-pace", username)
        turn = _key(self._prefix, "login-turn", username, network)
        admitted, wait_ms, paced = await self._begin(
            keys=[*keys, pace, turn],
            args=[self._window_ms, *self._limits, self._pace_ms, TURN_GRACE_MS],
        )
        if not int(admitted):
            if int(paced):
                raise ThrottledError(
                    "this username is tried too often; your turn", int(wait_ms), paced=True
                )
            raise ThrottledError("too many failed logins", int(wait_ms))
        return LoginAttempt(keys)

    async def succeeded(self, attempt: LoginAttempt) -> None:
        # The right password ends the guessing from this address; the other counts keep their
        # history minus this attempt, so the owner's login does not reopen the username to a
        # burst of unpaced guesses, and a shared NAT address is not blamed for its logins.
        await self._succeeded(keys=list(attempt.keys))


class RegistrationThrottle:
    def __init__(
        self,
        redis: RedisClient,
        *,
        per_address: int,
        window_s: int,
        ipv6_prefix: int,
        prefix: str = "auth",
    ) -> None:
        self._per_address = per_address
        self._window_ms = window_s * 1000
        self._ipv6_prefix = ipv6_prefix
        self._prefix = _prefix(redis, prefix)
        self._count = redis.register_script(_COUNT)

    async def count(self, client_ip: str) -> None:
        """Count a registration, or raise ``ThrottledError`` when the address has had enough."""
        network = client_network(client_ip, self._ipv6_prefix)
        key = _key(self._prefix, "registrations:address", network)
        count, ttl_ms = await self._count(keys=[key], args=[self._window_ms])
        if int(count) > self._per_address:
            raise ThrottledError("too many registrations from this address", int(ttl_ms))
