"""MQTT with Home Assistant discovery, delivered through the event journal.

Topics (``<base>`` is ``mqtt.base_topic``/``mqtt.client_id``, e.g. ``uspd/uspd``):

- ``<base>/availability``: ``online`` on connect, ``offline`` as the last will and on a
  clean stop (retained);
- ``<base>/occupancy``: ``ON``/``OFF``; ``<base>/motion``: ``ON``/``OFF`` (off after
  ``mqtt.motion_off_s`` without motion); ``<base>/motion_score``: ``0.00``–``1.00``, at most
  every ``mqtt.score_interval_s`` (all retained, QoS 1);
- ``<base>/event``: every presence event as JSON (not retained);
- ``<discovery_prefix>/{binary_sensor,sensor}/<client_id>_<name>/config``: discovery
  (retained), sent again whenever Home Assistant announces ``online`` on
  ``<discovery_prefix>/status``.

Every state and routine message is a journal row first; a sender thread hands the
pending rows to paho one at a time, oldest first, whenever the broker is connected (see
:class:`MqttLink`). A broker that is down at start, restarts, or a uspd restart therefore
loses nothing and reorders nothing. Score messages supersede their predecessor still
waiting: only the latest value counts.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import numpy as np
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from uspd import __version__
from uspd.config import ConfigError, MqttConfig
from uspd.detect.pipeline import Decisions
from uspd.live.journal import Delivery, Journal

QOS = 1
ONLINE, OFFLINE = "online", "offline"
ON, OFF = "ON", "OFF"


class Topics:
    """The topic names of one device."""

    def __init__(self, config: MqttConfig) -> None:
        base = f"{config.base_topic.rstrip('/')}/{config.client_id}"
        self.availability = f"{base}/availability"
        self.occupancy = f"{base}/occupancy"
        self.motion = f"{base}/motion"
        self.motion_score = f"{base}/motion_score"
        self.event = f"{base}/event"
        self.ha_status = f"{config.discovery_prefix}/status"


def discovery_messages(config: MqttConfig) -> list[tuple[str, dict]]:
    """(topic, config payload) for the occupancy, motion and motion-score entities."""
    topics = Topics(config)
    device = {
        "identifiers": [f"uspd_{config.client_id}"],
        "name": config.device_name,
        "manufacturer": "uspd",
        "model": "ultrasonic presence detector",
        "sw_version": __version__,
    }
    common = {
        "availability_topic": topics.availability,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "qos": QOS,
        "device": device,
    }
    entities = [
        ("binary_sensor", "occupancy", {"name": "Occupancy", "state_topic": topics.occupancy,
                                        "device_class": "occupancy", "payload_on": ON, "payload_off": OFF}),
        ("binary_sensor", "motion", {"name": "Motion", "state_topic": topics.motion,
                                     "device_class": "motion", "payload_on": ON, "payload_off": OFF}),
        ("sensor", "motion_score", {"name": "Motion score", "state_topic": topics.motion_score,
                                    "state_class": "measurement", "suggested_display_precision": 2,
                                    "icon": "mdi:motion-sensor"}),
    ]
    out = []
    for component, name, entity in entities:
        unique_id = f"{config.client_id}_{name}"
        payload = {**entity, "unique_id": unique_id, "object_id": unique_id, **common}
        out.append((f"{config.discovery_prefix}/{component}/{unique_id}/config", payload))
    return out


class MqttLink:
    """A paho client that connects in the background and reconnects forever, and a sender
    thread that moves the journal's pending messages to the broker strictly in order.

    One message is in flight at a time: the next goes out only after the broker
    acknowledged the last (PUBACK). If the connection drops meanwhile, paho re-sends that
    one message on reconnect, so nothing is lost, duplicated by us, or reordered. (Pending
    messages arrive at a few hundred per second on a LAN; uspd makes a few per minute.)
    """

    def __init__(self, config: MqttConfig, journal: Journal, *, reconnect_max_s: float = 30.0,
                 on_status: Callable[[str], None] | None = None) -> None:
        if config.host is None:
            raise ConfigError("mqtt.host is not set")
        if config.tls and config.ca_file is not None and not config.ca_file.is_file():
            raise ConfigError(f"mqtt.ca_file {config.ca_file} does not exist")
        self.config = config
        self.journal = journal
        self.topics = Topics(config)
        self.on_status = on_status
        self.status = f"connecting to {config.host}:{config.port}"
        self.connected = threading.Event()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._acks = threading.Condition()  # never held while calling paho: on_publish runs under paho's mutex
        self._acked: set[int] = set()
        self._in_flight = False
        self._reported_failure = False
        self._sender = threading.Thread(target=self._send_pending, name="uspd-mqtt-sender", daemon=True)

        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=config.client_id, clean_session=True)
        if config.username is not None:
            client.username_pw_set(config.username, config.password)
        if config.tls:
            try:
                client.tls_set(ca_certs=str(config.ca_file) if config.ca_file else None)
            except (OSError, ValueError) as err:
                raise ConfigError(f"mqtt TLS setup failed: {err}") from None
            client.tls_insecure_set(config.tls_insecure)
        client.will_set(self.topics.availability, OFFLINE, qos=QOS, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=max(1, int(reconnect_max_s)))
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self.client = client

    def start(self) -> None:
        """Connect in the background; the journal's pending messages (a previous run's
        first) go out once connected."""
        self.client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self.client.loop_start()
        self._sender.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Wait up to ``timeout_s`` for pending messages, say ``offline``, disconnect.
        What is still pending stays in the journal for the next start."""
        self.wait_delivered(timeout_s)
        self._stopping.set()
        self._wake.set()
        with self._acks:
            self._acks.notify_all()
        if self._sender.is_alive():
            self._sender.join()
        if self.connected.is_set():
            info = self.client.publish(self.topics.availability, OFFLINE, qos=QOS, retain=True)
            try:
                info.wait_for_publish(timeout=timeout_s)
            except (RuntimeError, ValueError):
                pass  # the connection went meanwhile: the broker sends the last will instead
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: str, *, retain: bool = False, event_id: int | None = None,
                routine: str | None = None, supersede: bool = False) -> int:
        """Journal a message for the sender; returns its delivery id. ``supersede``: an
        older message to the topic still waiting is dropped (a sensor whose latest value
        is all that counts)."""
        delivery_id = self.journal.add_delivery("mqtt", topic, payload, event_id=event_id, routine=routine,
                                                retain=retain, supersede=supersede)
        self._wake.set()
        return delivery_id

    def wait_delivered(self, timeout_s: float) -> bool:
        """Whether every journaled message was acknowledged within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while self.journal.pending("mqtt", limit=1):
            if time.monotonic() >= deadline or self._stopping.is_set():
                return False
            time.sleep(0.05)
        return True

    def _send_pending(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            while self.connected.is_set() and not self._stopping.is_set():
                batch = self.journal.pending("mqtt", limit=100)
                if not batch:
                    break
                for delivery in batch:
                    if not self._deliver(delivery):
                        break

    def _deliver(self, delivery: Delivery) -> bool:
        """Send one message and wait for its PUBACK (across reconnects); False when stopping."""
        if not self.connected.is_set() or self._stopping.is_set():
            return False
        if self.journal.delivery(delivery.id).status != "pending":  # superseded meanwhile
            return True
        info = self.client.publish(delivery.target, delivery.payload, qos=QOS, retain=delivery.retain)
        with self._acks:
            if not self._acks.wait_for(lambda: info.mid in self._acked or self._stopping.is_set()):
                return False
            if info.mid not in self._acked:
                return False
            self._acked.discard(info.mid)
        self.journal.mark(delivery.id, "delivered")
        return True

    def _set_status(self, status: str) -> None:
        self.status = status
        if self.on_status is not None:
            self.on_status(status)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._set_status(f"broker {self.config.host}:{self.config.port} refused the connection: {reason_code}")
            return
        client.publish(self.topics.availability, ONLINE, qos=QOS, retain=True)
        self._publish_discovery()
        client.subscribe(self.topics.ha_status, qos=QOS)
        self.connected.set()
        self._wake.set()
        self._reported_failure = False
        self._set_status(f"connected to {self.config.host}:{self.config.port}")

    def _on_connect_fail(self, client, userdata) -> None:
        if not self._reported_failure:
            self._reported_failure = True
            self._set_status(
                f"MQTT broker {self.config.host}:{self.config.port} unreachable; events are journaled and "
                "will be delivered when it is back"
            )

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if reason_code.is_failure:
            self._set_status(f"lost the MQTT broker {self.config.host}:{self.config.port} ({reason_code}); reconnecting")

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._acks:
            self._acked.add(mid)
            self._acks.notify_all()

    def _on_message(self, client, userdata, message) -> None:
        if message.topic == self.topics.ha_status and message.payload == ONLINE.encode():
            self._publish_discovery()

    def _publish_discovery(self) -> None:
        for topic, payload in discovery_messages(self.config):
            self.client.publish(topic, json.dumps(payload), qos=QOS, retain=True)


class HomeAssistantStates:
    """Decisions → the occupancy, motion and score states and the event stream."""

    def __init__(self, link: MqttLink) -> None:
        self.link = link
        self.config = link.config
        self.topics = link.topics
        self._motion_on = False
        self._last_motion_s = -np.inf
        self._score_due_s: float | None = None
        self._score_max = 0.0
        self._score_sent: str | None = None

    def start(self) -> None:
        """A fresh stream starts vacant and still: say so, replacing last run's retained states."""
        self.link.publish(self.topics.occupancy, OFF, retain=True)
        self.link.publish(self.topics.motion, OFF, retain=True)

    def process(self, decisions: Decisions, event_ids: list[int]) -> None:
        for event, event_id in zip(decisions.events, event_ids):
            payload = json.dumps({"time_s": round(event.time_s, 3), "event": event.event, "kind": event.kind,
                                  "score": round(event.score, 3)})
            if event.event in ("occupied", "vacant"):
                self.link.publish(self.topics.occupancy, ON if event.event == "occupied" else OFF, retain=True,
                                  event_id=event_id)
            self.link.publish(self.topics.event, payload, event_id=event_id)
        self._motion(decisions)
        self._score(decisions)

    def _motion(self, decisions: Decisions) -> None:
        moving = np.flatnonzero(decisions.motion != "none")
        if len(moving) and not self._motion_on:
            self._motion_on = True
            self.link.publish(self.topics.motion, ON, retain=True)
        if len(moving):
            self._last_motion_s = float(decisions.time_s[moving[-1]])
        if self._motion_on and len(decisions.time_s) and decisions.time_s[-1] - self._last_motion_s >= self.config.motion_off_s:
            self._motion_on = False
            self.link.publish(self.topics.motion, OFF, retain=True)

    def _score(self, decisions: Decisions) -> None:
        interval_s = self.config.score_interval_s
        for time_s, score in zip(decisions.time_s.tolist(), decisions.score.tolist()):
            if self._score_due_s is None:
                self._score_due_s = time_s + interval_s
            self._score_max = max(self._score_max, score)
            if time_s >= self._score_due_s:
                text = f"{self._score_max:.2f}"
                if text != self._score_sent:
                    self.link.publish(self.topics.motion_score, text, retain=True, supersede=True)
                    self._score_sent = text
                self._score_max = 0.0
                self._score_due_s = time_s + interval_s
