"""``chat-auth-admin``: an operator's command for the global roles of a person.

    chat-auth-admin roles alice            what alice is
    chat-auth-admin grant alice moderator  alice moderates every room from her next token
    chat-auth-admin revoke alice admin     alice is no admin, and is signed out everywhere

Roles travel in access tokens, so a grant takes effect at the person's next token (a refresh,
within the access-token lifetime). Taking a role away cannot wait that long: it also ends every
login session of the person, so the gateways close their sockets within seconds and the next
sign-in carries the new roles. It reads the service's own settings (``CHAT_AUTH_*``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from chat_auth.accounts import DEFAULT_ROLES, AccountStore
from chat_auth.metrics import AuthMetrics
from chat_auth.revoker import Revoker
from chat_auth.sessions import SessionStore
from chat_auth.settings import AuthSettings, load_auth_settings
from chat_common import database, redis_client
from chat_common.settings import SettingsError

ROLES = ("moderator", "admin")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chat-auth-admin", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("roles", help="print a person's roles")
    show.add_argument("username")
    for name, verb in (("grant", "give"), ("revoke", "take away")):
        change = commands.add_parser(name, help=f"{verb} a global role")
        change.add_argument("username")
        change.add_argument("role", choices=ROLES)
    return parser


async def _run(settings: AuthSettings, command: str, username: str, role: str | None) -> str:
    pool = await database.create_pool(settings.database_url, min_size=1, max_size=2)
    redis = redis_client.create_redis(
        settings.redis_url, client_name="auth-admin", max_connections=2, pool_timeout_s=5.0
    )
    try:
        accounts = AccountStore(pool)
        account = await accounts.find(username.lower())
        if account is None:
            raise LookupError(f"no user {username!r}")
        roles = account.roles
        if command == "grant" and role is not None and role not in roles:
            roles = (*roles, role)
        elif command == "revoke" and role in roles:
            roles = tuple(r for r in roles if r != role) or DEFAULT_ROLES
        if roles != account.roles:
            await accounts.set_roles(account.username, roles)
        if command == "revoke" and roles != account.roles:
            sessions = SessionStore(pool, refresh_ttl_s=settings.refresh_token_ttl_s)
            ended = await sessions.revoke_all(account.id, f"role {role} revoked")
            mark_ttl_s = settings.access_token_ttl_s + settings.revocation_leeway_s
            revoker = Revoker(redis, AuthMetrics(), mark_ttl_s=mark_ttl_s)
            await revoker.user_logged_out(account.id, ended, f"role {role} revoked")
        return f"{account.username}: {' '.join(roles)}"
    finally:
        await redis.aclose()
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        settings = load_auth_settings()
    except SettingsError as exc:
        print(f"chat-auth-admin: {exc}", file=sys.stderr)
        return 2
    role: str | None = getattr(arguments, "role", None)
    try:
        print(asyncio.run(_run(settings, arguments.command, arguments.username, role)))
    except LookupError as exc:
        print(f"chat-auth-admin: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
