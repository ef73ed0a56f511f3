"""MQTT against a real mosquitto broker: discovery, states, last will, and nothing lost
when the broker is away (down at start, restarted mid-run, or the process restarted)."""

from __future__ import annotations

import json
import socket
from datetime import datetime

import numpy as np
import pytest

from live_frames import decision_blocks, quick_config
from mosquitto import Broker, Subscriber, free_port, needs_mosquitto, wait_until
from uspd.live.journal import Journal
from uspd.live.mqtt import MqttLink, Topics, discovery_messages
from uspd.live.routines import Timeline
from uspd.live.run import LiveChain

pytestmark = needs_mosquitto
WALK_IN = [(1.0, 0.0), (2.0, 0.9), (1.0, 0.0)]  # quiet, walk in, stand still: motion, occupied
LEAVE = [(6.0, 0.0)]  # quiet past hold_s (4 s): vacant
VELOCITY_M_S = np.linspace(-4.0, 4.0, 65)  # any axis: these tests hand the chain decisions, not frames


@pytest.fixture
def broker(tmp_path):
    broker = Broker(tmp_path)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / "events.sqlite3") as journal:
        yield journal


def _config(port: int):
    return quick_config(mqtt={"host": "127.0.0.1", "port": port, "client_id": "hall", "score_interval_s": 0.5,
                              "motion_off_s": 1.0})


def _chain(config, journal, link):
    return LiveChain(config, VELOCITY_M_S, journal=journal, timeline=Timeline(datetime(2024, 5, 1, 8, 0)),
                     source_name="test", mqtt=link)


@pytest.fixture
def link_factory(journal):
    links = []

    def make(config):
        link = MqttLink(config.mqtt, journal, reconnect_max_s=1)
        links.append(link)
        return link

    yield make
    for link in links:
        link.stop(timeout_s=1)


def _connected(port: int, link_factory, topics: list[str]):
    """A config for the broker on ``port``, a subscriber to ``topics`` and a started link."""
    config = _config(port)
    subscriber = Subscriber(port, topics)
    link = link_factory(config)
    link.start()
    return config, subscriber, link


def test_discovery_configs_availability_and_rediscovery(broker, link_factory):
    config, subscriber, link = _connected(broker.port, link_factory, ["homeassistant/#", "uspd/#"])
    topics = Topics(config.mqtt)
    try:
        assert wait_until(lambda: len([m for m in subscriber.messages if m[0].endswith("/config")]) == 3)
        assert wait_until(lambda: subscriber.on(topics.availability) == ["online"])
        late = Subscriber(broker.port, ["homeassistant/#", topics.availability], client_id="late")  # sees what is retained
        assert wait_until(lambda: len(late.messages) == 4)
        late.close()
        assert all(retain for _, _, retain in late.messages) and (topics.availability, "online", True) in late.messages
        configs = {topic: json.loads(payload) for topic, payload, _ in late.messages if topic.endswith("/config")}
        occupancy = configs["homeassistant/binary_sensor/hall_occupancy/config"]
        motion = configs["homeassistant/binary_sensor/hall_motion/config"]
        score = configs["homeassistant/sensor/hall_motion_score/config"]
        assert (occupancy["device_class"], motion["device_class"]) == ("occupancy", "motion")
        assert occupancy["state_topic"] == "uspd/hall/occupancy" and score["state_topic"] == "uspd/hall/motion_score"
        for entity in (occupancy, motion, score):
            assert entity["availability_topic"] == "uspd/hall/availability"
            assert entity["device"]["identifiers"] == ["uspd_hall"]
        assert len({e["unique_id"] for e in configs.values()}) == 3
        assert [topic for topic, _ in discovery_messages(config.mqtt)] == sorted(configs, key=list(configs).index)

        subscriber.client.publish("homeassistant/status", "online", qos=1)  # Home Assistant restarted
        assert wait_until(lambda: len([m for m in subscriber.messages if m[0].endswith("/config")]) == 6)
    finally:
        subscriber.close()


def test_last_will_says_offline_when_the_connection_dies(broker, link_factory):
    config, subscriber, link = _connected(broker.port, link_factory, ["uspd/#"])
    availability = Topics(config.mqtt).availability
    try:
        assert wait_until(lambda: subscriber.on(availability) == ["online"])
        link.client.socket().shutdown(socket.SHUT_RDWR)  # no DISCONNECT: the broker sends the will
        assert wait_until(lambda: subscriber.on(availability)[:3] == ["online", "offline", "online"], timeout_s=15)
    finally:
        subscriber.close()


def test_walk_in_and_departure_publish_states_in_order(broker, journal, link_factory):
    config, subscriber, link = _connected(broker.port, link_factory, ["uspd/#"])
    topics = Topics(config.mqtt)
    chain = _chain(config, journal, link)
    try:
        assert link.connected.wait(10)
        for block in decision_blocks(config, WALK_IN + LEAVE):
            chain.handle(block)
            assert link.wait_delivered(10)  # at live pace: no score waits long enough to be superseded
        assert wait_until(lambda: subscriber.on(topics.occupancy) == ["OFF", "ON", "OFF"])
        assert wait_until(lambda: subscriber.on(topics.motion) == ["OFF", "ON", "OFF"])
        events = [json.loads(p)["event"] for p in subscriber.on(topics.event)]
        assert events == ["motion", "occupied", "vacant"]
        scores = [float(p) for p in subscriber.on(topics.motion_score)]
        assert max(scores) == pytest.approx(0.9) and scores[-1] == 0.0
        assert journal.pending("mqtt") == []
        assert [e.event for e in journal.events()] == events
    finally:
        subscriber.close()


def test_broker_restart_mid_run_loses_no_event(broker, journal, link_factory):
    config, subscriber, link = _connected(broker.port, link_factory, ["uspd/#"])
    topics = Topics(config.mqtt)
    chain = _chain(config, journal, link)
    blocks = decision_blocks(config, WALK_IN + LEAVE + WALK_IN + LEAVE)
    try:
        for block in blocks[:4]:
            chain.handle(block)
        assert link.wait_delivered(10)
        broker.stop()
        assert wait_until(lambda: not link.connected.is_set())
        for block in blocks[4:]:
            chain.handle(block)
        assert journal.pending("mqtt"), "with the broker away the messages must wait in the journal"
        broker.start()
        assert wait_until(lambda: journal.pending("mqtt") == [], timeout_s=20)
        expected = ["motion", "occupied", "vacant"] * 2
        assert wait_until(lambda: [json.loads(p)["event"] for p in subscriber.on(topics.event)] == expected,
                          timeout_s=15), subscriber.on(topics.event)
        assert wait_until(lambda: subscriber.on(topics.occupancy)[-1:] == ["OFF"])
        assert subscriber.on(topics.occupancy).count("ON") == 2
    finally:
        subscriber.close()


def test_broker_down_at_start_is_reported_and_delivered_later(tmp_path, journal, link_factory):
    port = free_port()
    config = _config(port)
    statuses: list[str] = []
    link = MqttLink(config.mqtt, journal, reconnect_max_s=1, on_status=statuses.append)
    link.start()
    chain = _chain(config, journal, link)
    try:
        assert wait_until(lambda: any("unreachable" in s for s in statuses))
        message = next(s for s in statuses if "unreachable" in s)
        assert f"127.0.0.1:{port}" in message and "journaled" in message
        for block in decision_blocks(config, WALK_IN):
            chain.handle(block)
        waiting = journal.pending("mqtt")
        assert [d.payload for d in waiting if d.target == "uspd/hall/occupancy"] == ["OFF", "ON"]
        broker = Broker(tmp_path, port)
        broker.start()
        try:
            assert wait_until(lambda: journal.pending("mqtt") == [], timeout_s=20)
            assert all(journal.delivery(d.id).status == "delivered" for d in waiting)
            subscriber = Subscriber(port, ["uspd/hall/occupancy"], client_id="late")
            assert wait_until(lambda: subscriber.on("uspd/hall/occupancy") == ["ON"])  # the retained state
            subscriber.close()
        finally:
            link.stop(timeout_s=1)
            broker.stop()
    finally:
        link.stop(timeout_s=1)


def test_a_restarted_process_sends_the_previous_runs_pending_messages_first(broker, tmp_path, link_factory):
    config = _config(broker.port)
    path = tmp_path / "restart.sqlite3"
    with Journal(path) as first:  # a run that never reached a broker
        dead = MqttLink(quick_config(mqtt={"host": "127.0.0.1", "port": free_port(), "client_id": "hall"}).mqtt,
                        first, reconnect_max_s=1)
        chain = _chain(config, first, dead)
        for block in decision_blocks(config, WALK_IN + LEAVE):
            chain.handle(block)
        dead.stop(timeout_s=0)
        assert len(first.pending("mqtt")) >= 5
    subscriber = Subscriber(broker.port, ["uspd/hall/event"])
    with Journal(path) as second:
        link = MqttLink(config.mqtt, second, reconnect_max_s=1)
        link.start()
        link.publish("uspd/hall/event", json.dumps({"event": "next-run"}))
        try:
            assert wait_until(lambda: len(subscriber.on("uspd/hall/event")) == 4)
            events = [json.loads(p)["event"] for p in subscriber.on("uspd/hall/event")]
            assert events == ["motion", "occupied", "vacant", "next-run"]
            assert link.wait_delivered(10)  # the broker's PUBACK may reach us after the subscriber's copy
            assert second.pending("mqtt") == []
        finally:
            link.stop(timeout_s=1)
            subscriber.close()


def test_a_waiting_score_is_superseded_by_the_next_but_states_are_not(tmp_path, journal, link_factory):
    config = _config(free_port())  # no broker: everything waits
    link = link_factory(config)
    link.start()
    chain = _chain(config, journal, link)
    for block in decision_blocks(config, WALK_IN + LEAVE):
        chain.handle(block)
    waiting = journal.pending("mqtt")
    assert [d.payload for d in waiting if d.target == "uspd/hall/motion_score"] == ["0.00"]  # the latest only
    assert [d.payload for d in waiting if d.target == "uspd/hall/occupancy"] == ["OFF", "ON", "OFF"]
    assert journal.counts()["superseded"] == 2  # 0.00 (quiet) → 0.90 (walking) → 0.00: two replaced
