"""authenticate_basic: users, robots, disabled accounts, backoff, the per-address limit."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from berth.auth.errors import InvalidCredentials, TooManyAttempts
from berth.auth.limits import IpFailureLimiter, backoff_remaining_s, backoff_s
from berth.auth.services import AuthService
from berth.authz import AccessPolicy, Principal
from berth.identity.models import User
from berth.identity.passwords import VerifiedCache
from tests.unit.identity.conftest import Identity


@pytest.fixture
def auth(identity: Identity) -> AuthService:
    return AuthService(
        identity.db,
        server_hostname="localhost:5000",
        issuer="quay",
        secret_key="s",
        database_secret_key="test-database-secret",
        super_users=frozenset({"root"}),
        policy=AccessPolicy(anonymous_access=True),
        library_namespace="library",
        token_ttl_s=300,
        create_private=True,
        create_namespace_on_push=False,
        default_tag_expiration_s=1209600,
    )


def test_backoff_formula() -> None:
    assert [backoff_s(n) for n in range(5)] == [0, 0.5, 1.5, 3.5, 7.5]
    assert backoff_remaining_s(3, 10_000, now=11_000) == pytest.approx(2.5)
    assert backoff_remaining_s(3, 10_000, now=14_000) == 0
    assert backoff_remaining_s(0, None) == 0


async def test_user_login_and_superuser(identity: Identity, auth: AuthService) -> None:
    uid = await identity.user("alice")
    await identity.user("root")
    p = await auth.authenticate_basic("alice", "password-123")
    assert p == Principal("user", "alice", is_superuser=False, user_id=uid)
    assert (await auth.authenticate_basic("root", "password-123")).is_superuser
    with pytest.raises(InvalidCredentials):
        await auth.authenticate_basic("nobody", "password-123")


async def test_disabled_user_is_refused(identity: Identity, auth: AuthService) -> None:
    await identity.user("alice")
    await identity.disable("alice")
    with pytest.raises(InvalidCredentials) as e:
        await auth.authenticate_basic("alice", "password-123")
    assert e.value.reason == "User account is disabled"


async def test_backoff_refuses_even_the_right_password(
    identity: Identity, auth: AuthService
) -> None:
    await identity.user("alice")
    await auth.authenticate_basic("alice", "password-123")  # cached as verified
    for _ in range(2):
        with pytest.raises((InvalidCredentials, TooManyAttempts)):
            await auth.authenticate_basic("alice", "wrong")
    with pytest.raises(TooManyAttempts) as e:
        await auth.authenticate_basic("alice", "password-123")
    assert e.value.retry_after >= 1
    # Once the window has passed, the right password works and resets the count.
    async with identity.db.write() as s:
        await s.execute(update(User).values(last_invalid_login=1))
    await auth.authenticate_basic("alice", "password-123")
    with pytest.raises(InvalidCredentials):
        await auth.authenticate_basic("alice", "wrong")  # n = 1 again: 0.5 s
    with pytest.raises(TooManyAttempts) as e:
        await auth.authenticate_basic("alice", "password-123")
    assert e.value.retry_after == 1


async def test_robot_login(identity: Identity, auth: AuthService) -> None:
    await identity.user("alice")
    await identity.orgs.create("acme", creator="alice")
    robot = await identity.robots.create("acme", "ci")
    assert robot.token
    p = await auth.authenticate_basic("acme+ci", robot.token)
    assert (p.kind, p.name, p.is_robot, p.user_id) == ("robot", "acme+ci", True, robot.id)
    new = await identity.robots.regenerate("acme", "ci")
    with pytest.raises(InvalidCredentials):
        await auth.authenticate_basic("acme+ci", robot.token)
    assert new.token
    assert (await auth.authenticate_basic("acme+ci", new.token)).name == "acme+ci"
    # Robots are not users: a robot name with a password never reaches password checks.
    with pytest.raises(InvalidCredentials):
        await auth.authenticate_basic("acme+nope", new.token)


async def test_special_usernames_plug_in(identity: Identity, auth: AuthService) -> None:
    async def oauth(password: str) -> Principal:
        if password != "good-token":
            raise InvalidCredentials("Invalid access token")
        return Principal("user", "alice")

    auth.register_special_login("$oauthtoken", oauth)
    assert (await auth.authenticate_basic("$oauthtoken", "good-token")).name == "alice"
    with pytest.raises(InvalidCredentials):
        await auth.authenticate_basic("$oauthtoken", "bad")
    with pytest.raises(InvalidCredentials):
        await auth.authenticate_basic("$app", "anything")  # not registered: no such user


async def test_per_address_limit(identity: Identity, auth: AuthService) -> None:
    await identity.user("alice")
    auth.ip_limiter = IpFailureLimiter(max_failures=3, window_s=60)
    for i in range(3):
        with pytest.raises(InvalidCredentials):
            await auth.authenticate_basic(f"nobody{i}", "x", ip="10.0.0.1")
    with pytest.raises(TooManyAttempts):
        await auth.authenticate_basic("alice", "password-123", ip="10.0.0.1")
    assert (await auth.authenticate_basic("alice", "password-123", ip="10.0.0.2")).name == "alice"


async def _stored_hash(identity: Identity, name: str) -> str:
    async with identity.db.read() as s:
        query = select(User.password_hash).where(User.username == name)
        return (await s.execute(query)).scalar_one()


async def test_a_hash_with_other_argon2_parameters_is_replaced_at_login(
    identity: Identity, auth: AuthService
) -> None:
    """Hashes made before Berth chose OWASP's parameters (argon2-cffi's defaults: 64 MiB,
    3 passes, 4 lanes) cost ~165 ms per login: the first right login stores a new one."""
    await identity.user("alice")
    old = PasswordHasher().hash("password-123")  # argon2-cffi's default parameters
    async with identity.db.write() as s:
        await s.execute(update(User).where(User.username == "alice").values(password_hash=old))

    with pytest.raises(InvalidCredentials):
        await auth.authenticate_basic("alice", "wrong-password")
    assert await _stored_hash(identity, "alice") == old, "a wrong password changes nothing"
    async with identity.db.write() as s:  # lift the login backoff the failure started
        await s.execute(update(User).values(invalid_login_attempts=0))

    await auth.authenticate_basic("alice", "password-123")
    new = await _stored_hash(identity, "alice")
    assert new.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PasswordHasher().verify(new, "password-123")
    await auth.authenticate_basic("alice", "password-123")  # cached, and still good
    auth.verified = VerifiedCache("other-secret")
    await auth.authenticate_basic("alice", "password-123")
    assert await _stored_hash(identity, "alice") == new, "a current hash is kept"
