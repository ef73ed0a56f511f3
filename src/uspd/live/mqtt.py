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

Every state and routine message gets a journal row before it is handed to paho. paho
keeps QoS 1 messages queued while the broker is away and sends them, in order, when it
reconnects; the journal covers what paho cannot: a restart. At start the previous run's
pending rows go out first. Score messages are the exception: only the latest counts, so
while disconnected a new score supersedes the pending one instead of queuing behind it.
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
from uspd.live.journal import Journal

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
    """A paho client that connects in the background, reconnects forever and marks each
    journaled message delivered when the broker acknowledges it (PUBACK)."""

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
        self._lock = threading.RLock()
        self._handed: dict[int, int] = {}  # paho mid → delivery id, for messages paho holds
        self._handed_ids: set[int] = set()
        self._pending_supersede: set[int] = set()
        self._reported_failure = False

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
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self.client = client

    def start(self) -> None:
        """Hand the journal's pending messages (oldest first) to paho, then connect in the background."""
        with self._lock:
            for delivery in self.journal.pending("mqtt"):
                self._hand(delivery.id, delivery.target, delivery.payload, delivery.retain)
        self.client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self.client.loop_start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Wait up to ``timeout_s`` for unacknowledged messages, say ``offline``, disconnect.
        What is still pending stays in the journal for the next start."""
        self.wait_delivered(timeout_s)
        if self.connected.is_set():
            info = self.client.publish(self.topics.availability, OFFLINE, qos=QOS, retain=True)
            try:
                info.wait_for_publish(timeout=timeout_s)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: str, *, retain: bool = False, event_id: int | None = None,
                routine: str | None = None, supersede: bool = False) -> int:
        """Journal a message, then queue it in paho; returns its delivery id."""
        with self._lock:
            delivery_id = self.journal.add_delivery("mqtt", topic, payload, event_id=event_id, routine=routine,
                                                    retain=retain, supersede=supersede)
            if self.connected.is_set() or not supersede:
                self._hand(delivery_id, topic, payload, retain)
            return delivery_id

    def wait_delivered(self, timeout_s: float) -> bool:
        """Whether every message handed to paho was acknowledged within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                if not self._handed:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def _hand(self, delivery_id: int, topic: str, payload: str, retain: bool) -> None:
        info = self.client.publish(topic, payload, qos=QOS, retain=retain)
        self._handed[info.mid] = delivery_id
        self._handed_ids.add(delivery_id)

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
        with self._lock:
            for delivery in self.journal.pending("mqtt"):  # superseding scores kept back while away
                if delivery.id not in self._handed_ids:
                    self._hand(delivery.id, delivery.target, delivery.payload, delivery.retain)
            self.connected.set()
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
        with self._lock:
            delivery_id = self._handed.pop(mid, None)
            if delivery_id is not None:
                self._handed_ids.discard(delivery_id)
                self.journal.mark(delivery_id, "delivered")

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
