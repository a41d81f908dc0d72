"""Every option is checked, an insecure remote URL is refused, and a sender refuses what
cannot travel before anything reaches Redis."""

from __future__ import annotations

import math

import attrs
import pytest

from playbill import Actor, InvalidArgument, PlaybillError
from playbill.distributed import (
    DurableRef,
    MessageRegistry,
    RedisTransport,
    message,
    redis_write,
)
from playbill.interpreters import ActorSystem
from tests.distributed.support import admin, clean, node

URL = "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("namespace", ""),
        ("namespace", "a b"),
        ("namespace", 3),
        ("node_id", "x:y"),
        ("lease_ttl", 0),
        ("lease_ttl", math.inf),
        ("lease_ttl", "5"),
        ("heartbeat", -1.0),
        ("max_deliveries", 0),
        ("max_deliveries", 2.5),
        ("max_payload", 10),
        ("read_count", 0),
        ("dedup_ttl", math.nan),
        ("trim_every", 0),
        ("retry_max", 0),
        ("allow_insecure", "yes"),
        ("registry", {}),
    ],
)
def test_every_option_is_checked_naming_it_and_the_value(option, value):
    with pytest.raises(InvalidArgument) as raised:
        RedisTransport(URL, **{option: value})
    text = str(raised.value)
    assert option in text
    assert repr(value) in text or str(value) in text


def test_heartbeat_must_be_shorter_than_the_lease():
    with pytest.raises(InvalidArgument, match="heartbeat must be shorter than lease_ttl"):
        RedisTransport(URL, lease_ttl=1.0, heartbeat=1.0)


@pytest.mark.parametrize(
    "url",
    ["redis://10.1.2.3:6379/0", "redis://user:pw@redis.example.com/0", "rediss://host:6379/0"],
)
def test_a_non_loopback_url_without_tls_and_credentials_is_refused(url):
    with pytest.raises(InvalidArgument, match="allow_insecure=True"):
        RedisTransport(url)
    assert RedisTransport(url, allow_insecure=True).url == url


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://localhost/0",
        "redis://[::1]:6379",
        "rediss://user:secret@redis.example.com:6380/0",
        "unix:///run/redis.sock",
    ],
)
def test_loopback_or_tls_with_credentials_is_accepted(url):
    assert RedisTransport(url).url == url


def test_a_url_that_is_not_redis_is_refused():
    with pytest.raises(InvalidArgument, match="redis://, rediss:// or unix://"):
        RedisTransport("http://127.0.0.1:6379")
    with pytest.raises(InvalidArgument, match="must be a str"):
        RedisTransport(None)  # type: ignore[arg-type]


def test_a_system_without_a_transport_says_how_to_get_one(arun):
    async def main():
        async with ActorSystem("app") as system:
            with pytest.raises(InvalidArgument, match=r"transport=RedisTransport\(url\)"):
                await system.spawn_durable(Actor, id="x")
            with pytest.raises(InvalidArgument, match="needs a transport"):
                system.remote("x")

    arun(main())
    with pytest.raises(InvalidArgument, match="must be a Transport"):
        ActorSystem("app", transport=object())  # type: ignore[arg-type]


def test_a_plain_durable_ref_says_it_has_no_transport():
    with pytest.raises(PlaybillError, match="no transport behind it"):
        DurableRef("x").tell("hello")
    with pytest.raises(InvalidArgument, match="timeout"):
        DurableRef("x").ask("hello", timeout=0)


def test_the_registry_refuses_bad_names_versions_and_classes_and_double_registration():
    registry = MessageRegistry()
    with pytest.raises(InvalidArgument, match="message name"):
        registry.message("has space")
    with pytest.raises(InvalidArgument, match="v"):
        registry.message("ok", v=0)
    with pytest.raises(InvalidArgument, match="attrs class or a dataclass"):
        registry.message("ok")(int)

    @registry.message("ok")
    @attrs.frozen
    class One:
        pass

    with pytest.raises(InvalidArgument, match="already registered"):

        @registry.message("ok")
        @attrs.frozen
        class Two:
            pass


class NotRegistered:
    pass


@message("tests.options.blob", v=1)
@attrs.frozen
class Blob:
    data: bytes


class Echo(Actor):
    def receive(self, message: object) -> object:
        return message


def test_a_sender_refuses_unregistered_and_oversize_messages_before_sending(
    arun, redis_url, namespace
):
    async def main():
        client = await admin(redis_url)
        async with node(redis_url, namespace, "a", max_payload=1000) as (system, _):
            ref = system.remote("e")
            with pytest.raises(InvalidArgument, match="not a registered message type"):
                ref.tell(NotRegistered())
            with pytest.raises(InvalidArgument, match="over max_payload=1000"):
                ref.tell(Blob(b"x" * 2000))
            with pytest.raises(InvalidArgument, match="not a registered message type"):
                ref.ask({"nested": [NotRegistered()]})
            await ref.flush()
            assert await client.exists(f"{namespace}:mbox:e") == 0  # nothing was sent
        await client.aclose()
        await clean(redis_url, namespace)

    arun(main())


def test_redis_write_outside_a_durable_actor_is_refused(arun, redis_url, namespace):
    async def main():
        class Plain(Actor):
            def receive(self, message: object) -> object:
                return redis_write("SET", "k", "v")

        async with node(redis_url, namespace, "a") as (system, _):
            plain = system.spawn(Plain, "plain")
            with pytest.raises(PlaybillError, match="outside a message of a durable actor"):
                await plain.ask("go")
        await clean(redis_url, namespace)

    arun(main())


def test_spawn_durable_checks_its_id_and_refuses_a_second_host_on_one_node(
    arun, redis_url, namespace
):
    async def main():
        async with node(redis_url, namespace, "a") as (system, _):
            with pytest.raises(InvalidArgument, match="spawn_durable\\(\\) id"):
                await system.spawn_durable(Echo, id="a:b")
            with pytest.raises(InvalidArgument, match="remote\\(\\) id"):
                system.remote("")
            await system.spawn_durable(Echo, id="e")
            with pytest.raises(InvalidArgument, match="already hosted"):
                await system.spawn_durable(Echo, id="e")
        await clean(redis_url, namespace)

    arun(main())


def test_importing_the_engine_without_its_extra_says_how_to_install_it():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['redis'] = None\n"
        "try:\n    import playbill.distributed\nexcept ImportError as error:\n"
        "    print(error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'playbill[redis]'" in out.stdout


def test_an_unreachable_redis_is_reported_at_start_and_nothing_is_left_running(arun):
    from playbill.testing.redis import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there

    async def main():
        system = ActorSystem("app", transport=RedisTransport(url))
        with pytest.raises(PlaybillError, match="cannot reach Redis"):
            async with system:
                pass  # pragma: no cover

    arun(main())
