"""Named actors, get-or-create, across processes: ``system.get_or_spawn(path, factory,
durable=True)`` (and `RedisTransport.get_or_spawn`) gives one actor for a path on the whole
cluster — the durable actor `RedisTransport.id_of(path)` — however many processes race."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import sys

import pytest

from playbill import Actor, ActorSystem
from playbill.effects import InvalidArgument
from tests.distributed.support import admin, clean, node

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent


class Session(Actor):
    built = 0

    def __init__(self) -> None:
        Session.built += 1
        self.seen: list[object] = []

    def receive(self, message: object) -> object:
        if message != "seen":
            self.seen.append(message)
        return list(self.seen)


def test_one_path_is_one_actor_on_every_node(arun, redis_url, namespace):
    Session.built = 0

    async def main() -> None:
        async with (
            node(redis_url, namespace, "a") as (one, transport_a),
            node(redis_url, namespace, "b") as (two, transport_b),
        ):
            refs = await asyncio.gather(
                one.get_or_spawn("/a/sessions/alice", Session, durable=True),  # absolute
                two.get_or_spawn("sessions/alice", Session, durable=True),  # relative
                one.get_or_spawn("sessions/alice", Session, durable=True),
                transport_b.get_or_spawn("/b/sessions/alice", Session),
            )
            assert len(set(refs)) == 1, refs
            assert refs[0].id == "sessions.alice" == transport_a.id_of("sessions/alice")
            owners = [transport_a.owns("sessions.alice"), transport_b.owns("sessions.alice")]
            assert owners.count(True) == 1
            refs[0].tell("from a")
            await refs[0].flush()
            refs[1].tell("from b")
            await refs[1].flush()
            assert sorted(await one.remote("sessions.alice").ask("seen", timeout=5)) == [
                "from a",
                "from b",
            ]
            assert Session.built == 1  # the standby built none
            other = await two.get_or_spawn("sessions/bob", Session, durable=True)
            assert other.id == "sessions.bob"
            assert other != refs[0]
            # the in-process call is unchanged: this system's own actor at the path
            local = one.get_or_spawn("sessions", Session)
            assert local.path == "/a/sessions"
        await clean(redis_url, namespace)

    arun(main())


def test_bad_paths_and_options_are_refused(arun, redis_url, namespace):
    async def main() -> None:
        async with node(redis_url, namespace, "a") as (system, transport):
            for path, why in [
                ("", "path must be an actor path"),
                ("a//b", "path must be an actor path"),
                ("worker.1", "path must be an actor path"),
                ("a b", "path must be an actor path"),
                ("/a", "path must be an actor path"),
                ("/other/cache", r"is under /other, not this system /a"),
                ("x" * 201, "at most 200 characters"),
                (42, "got 42"),
            ]:
                with pytest.raises(InvalidArgument, match=why):
                    await system.get_or_spawn(path, Session, durable=True)  # type: ignore[arg-type]
            with pytest.raises(InvalidArgument, match="get_or_spawn\\(\\) factory must be"):
                await transport.get_or_spawn("cache", 42)  # type: ignore[arg-type]
            with pytest.raises(InvalidArgument, match=r"durable must be True .* got 'yes'"):
                system.get_or_spawn("cache", Session, durable="yes")  # type: ignore[call-overload]
            with pytest.raises(InvalidArgument, match="takes mailbox only with durable=True"):
                system.get_or_spawn("cache", Session, mailbox=None)  # type: ignore[call-overload]
        async with ActorSystem("plain") as plain:
            with pytest.raises(InvalidArgument, match=r"needs a transport.*RedisTransport"):
                plain.get_or_spawn("cache", Session, durable=True)
        await clean(redis_url, namespace)

    arun(main())


def test_two_processes_racing_get_or_spawn_get_one_actor(redis_url, namespace):
    """Two worker processes, released at once, both call ``get_or_spawn("counters/shared",
    Counter, durable=True)``: both get the same ref, one actor is built (counted in Redis),
    and it runs in one of them; a third node reaches it through the path's id."""

    async def start(node_id: str) -> asyncio.subprocess.Process:
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.distributed.named_worker",
            redis_url,
            namespace,
            node_id,
            "counters/shared",
            cwd=ROOT,
            env=environment,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 15)
        assert line == b"started\n", f"worker {node_id} did not start: {line!r}"
        return process

    async def main() -> None:
        client = await admin(redis_url)
        processes = list(await asyncio.gather(start("p1"), start("p2")))
        try:
            await client.set(f"{namespace}:go", b"1")  # both race from here
            lines = [
                await asyncio.wait_for(process.stdout.readline(), 15)  # type: ignore[union-attr]
                for process in processes
            ]
            assert lines[0] == lines[1] == b"ready counters.shared 1\n", lines
            lease = await client.get(f"{namespace}:lease:counters.shared")
            owner = lease.decode().rsplit(":", 1)[0]
            assert owner in ("p1", "p2")
            async with node(redis_url, namespace, "client") as (system, transport):
                shared = system.remote(transport.id_of("counters/shared"))
                assert await shared.ask(5, timeout=10) == [5, owner]
                assert await shared.ask(6, timeout=10) == [11, owner]
            assert int(await client.get(f"{namespace}:built")) == 1
        finally:
            for process in processes:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(process.wait(), 10)
            await client.aclose()
        await clean(redis_url, namespace)

    asyncio.run(asyncio.wait_for(main(), 60))
