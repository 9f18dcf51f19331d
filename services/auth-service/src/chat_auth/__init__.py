"""The auth service: users, password login, access tokens with JWKS, refresh tokens, revocation."""
