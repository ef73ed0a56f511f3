"""Routines: which triggers fire when (kinds, cooldowns, time windows, quiet spells), what
their actions deliver, and clear errors for bad rules. Time is simulated throughout."""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from live_frames import HOP_S, decision_blocks, quick_config
from uspd.config import ConfigError, config_from_dict, load_config
from uspd.live.journal import Journal
from uspd.live.routines import ActionRunner, RoutineEngine, Timeline, in_hours, load_routines

EVENING = Timeline(datetime(2024, 5, 1, 21, 0))  # stream second 0 is 21:00
WALK_IN = [(1.0, 0.0), (2.0, 0.9), (1.0, 0.0)]
MINOR_SCORE = (quick_config().presence.minor_threshold + quick_config().presence.major_threshold) / 2
LEAVE = [(6.0, 0.0)]
WALK_SHOWN_S = 3.0 + (quick_config().presence.release_frames - 1) * HOP_S  # the motion flag holds past the walk


def _routines(*rules: dict):
    return config_from_dict({"routines": list(rules)}).routines


def _command(path) -> dict:
    return {"type": "command", "argv": [sys.executable, "-c",
                                        f"import sys; open({str(path)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')",
                                        "$routine", "$event", "$kind"]}


def _fire(rules, spans, timeline=EVENING):
    engine = RoutineEngine(_routines(*rules), timeline)
    return [f for block in decision_blocks(quick_config(), spans) for f in engine.process(block)]


def test_triggers_fire_on_their_events_and_kinds():
    rules = [
        {"name": "any", "trigger": "motion", "actions": [_command("x")]},
        {"name": "major", "trigger": "motion", "kind": "major", "actions": [_command("x")]},
        {"name": "minor", "trigger": "motion", "kind": "minor", "actions": [_command("x")]},
        {"name": "in", "trigger": "occupied", "actions": [_command("x")]},
        {"name": "out", "trigger": "vacant", "actions": [_command("x")]},
    ]
    firings = _fire(rules, WALK_IN + LEAVE + [(0.5, MINOR_SCORE)])  # walk in, leave, then a minor twitch
    names = [f.routine for f in firings]
    assert names == ["any", "major", "in", "out", "any", "minor"]
    assert firings[3].time_s == pytest.approx(3.0 + 4.0, abs=0.03)  # vacant hold_s after the last motion frame


def test_cooldown_suppresses_refiring():
    rule = {"name": "hall light", "trigger": "occupied", "cooldown_s": 30, "actions": [_command("x")]}
    two_visits = WALK_IN + LEAVE + WALK_IN + LEAVE
    assert len(_fire([rule], two_visits)) == 1
    assert len(_fire([{**rule, "cooldown_s": 5}], two_visits)) == 2


def test_active_hours_wrap_midnight():
    assert in_hours("22:00-06:00", datetime(2024, 1, 1, 23, 30))
    assert in_hours("22:00-06:00", datetime(2024, 1, 1, 5, 59))
    assert not in_hours("22:00-06:00", datetime(2024, 1, 1, 6, 0))
    assert not in_hours("22:00-06:00", datetime(2024, 1, 1, 12, 0))
    assert in_hours("08:00-17:00", datetime(2024, 1, 1, 8, 0)) and not in_hours("08:00-17:00", datetime(2024, 1, 1, 17, 0))
    rule = {"name": "night", "trigger": "occupied", "active_hours": "22:00-06:00", "actions": [_command("x")]}
    assert _fire([rule], WALK_IN, Timeline(datetime(2024, 5, 1, 21, 0))) == []
    assert len(_fire([rule], WALK_IN, Timeline(datetime(2024, 5, 1, 23, 0)))) == 1


def test_no_motion_for_fires_once_per_quiet_spell_after_motion():
    rule = {"name": "lights off", "trigger": "no_motion_for", "seconds": 2.5, "actions": [_command("x")]}
    assert _fire([rule], [(10.0, 0.0)]) == []  # no motion seen yet: nothing to time from
    firings = _fire([rule], WALK_IN + LEAVE + WALK_IN + LEAVE)
    assert [f.trigger for f in firings] == ["no_motion_for"] * 2
    last_motion_1, last_motion_2 = WALK_SHOWN_S, 10.0 + WALK_SHOWN_S  # the second walk ends 10 s after the first
    assert firings[0].time_s == pytest.approx(last_motion_1 + 2.5, abs=0.03)
    assert firings[1].time_s == pytest.approx(last_motion_2 + 2.5, abs=0.03)


def test_command_and_webhook_actions_deliver_and_failures_are_journaled(tmp_path):
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204 if self.path == "/ok" else 500)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    out = tmp_path / "ran.txt"
    rules = [
        {"name": "note", "trigger": "occupied", "actions": [_command(out), {"type": "webhook", "url": f"{url}/ok"}]},
        {"name": "broken", "trigger": "occupied", "actions": [
            {"type": "webhook", "url": f"{url}/fail"},
            {"type": "command", "argv": ["no-such-program-uspd"]},
            {"type": "command", "argv": [sys.executable, "-c", "import sys; sys.exit(3)"]},
        ]},
    ]
    with Journal(tmp_path / "j.sqlite3") as journal:
        runner = ActionRunner(journal, timeout_s=5, retries=1, backoff_s=0.01)
        engine = RoutineEngine(_routines(*rules), EVENING, runner)
        for block in decision_blocks(quick_config(), WALK_IN):
            engine.process(block, [journal.record_event(e, EVENING.wall(e.time_s), "test") for e in block.events])
        assert runner.drain(timeout_s=30)
        runner.close()
        server.shutdown()
        assert out.read_text() == "note occupied major\n"
        assert received[0]["routine"] == "note" and received[0]["event"] == "occupied" and received[0]["score"] == 0.9
        assert received[0]["time"].startswith("2024-05-01T21:00:01")  # walked in 1 s after 21:00
        assert len(received) == 3  # the failing webhook was tried twice
        deliveries = [journal.delivery(i) for i in range(1, 6)]
        assert [(d.routine, d.action, d.status) for d in deliveries if d.status == "delivered"] == [
            ("note", "command", "delivered"), ("note", "webhook", "delivered")]
        failed = sorted((d.error, d.attempts) for d in deliveries if d.status == "failed")
        assert len(failed) == 3
        assert [tries for error, tries in failed if error.startswith("HTTP 500")] == [2]
        assert ("program not found: no-such-program-uspd", 1) in failed  # permanent: not retried
        assert [tries for error, tries in failed if error.startswith("exit code 3")] == [2]
        assert runner.failures == 3


class _FlakyHook:
    """A webhook endpoint that answers 503 to its first ``failures`` requests, then 204."""

    def __init__(self, failures: int) -> None:
        self.requests = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                hook.requests += 1
                self.send_response(503 if hook.requests <= failures else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


def _run_walk_in(journal, rules, runner) -> None:
    engine = RoutineEngine(_routines(*rules), EVENING, runner, journal=journal, source_name="test")
    for block in decision_blocks(quick_config(), WALK_IN):
        engine.process(block, [journal.record_event(e, EVENING.wall(e.time_s), "test") for e in block.events])


def test_a_webhook_that_fails_for_a_while_is_retried_with_backoff_until_delivered(tmp_path):
    hook = _FlakyHook(failures=2)
    rules = [{"name": "hall", "trigger": "occupied", "actions": [{"type": "webhook", "url": hook.url}]}]
    with Journal(tmp_path / "j.sqlite3") as journal:
        runner = ActionRunner(journal, retries=3, backoff_s=0.05)
        started = time.monotonic()
        _run_walk_in(journal, rules, runner)
        assert runner.drain(timeout_s=30)
        waited_s = time.monotonic() - started
        runner.close()
        hook.server.shutdown()
        delivery = journal.delivery(1)
        assert (delivery.status, delivery.attempts, hook.requests) == ("delivered", 3, 3)
        assert waited_s >= 0.05 + 0.1  # backoff doubled between the tries
        assert runner.failures == 0


def test_a_retry_still_pending_at_stop_is_delivered_by_the_next_run(tmp_path):
    hook = _FlakyHook(failures=1)
    rules = [{"name": "hall", "trigger": "occupied", "actions": [{"type": "webhook", "url": hook.url},
                                                               {"type": "command", "argv": [sys.executable, "-c", "import sys; sys.exit(1)"]}]}]
    with Journal(tmp_path / "j.sqlite3") as journal:
        first = ActionRunner(journal, retries=3, backoff_s=600)  # the retry is not due before we stop
        _run_walk_in(journal, rules, first)
        first.close()
        assert [(d.action, d.attempts) for d in journal.pending()] == [("webhook", 1), ("command", 1)]

        changed = [{**rules[0], "actions": rules[0]["actions"][:1]}]  # the command was taken out of the routine
        second = ActionRunner(journal, retries=3, backoff_s=0.01, routines=_routines(*changed))
        assert second.drain(timeout_s=30)
        second.close()
        hook.server.shutdown()
        webhook, command = journal.delivery(1), journal.delivery(2)
        assert (webhook.status, webhook.attempts, hook.requests) == ("delivered", 2, 2)
        assert command.status == "failed" and "no longer has" in command.error
        assert journal.pending() == []


def test_no_motion_for_firings_are_journaled_as_events_with_their_deliveries(tmp_path):
    out = tmp_path / "ran.txt"
    rule = {"name": "lights off", "trigger": "no_motion_for", "seconds": 2.5, "actions": [_command(out)]}
    with Journal(tmp_path / "j.sqlite3") as journal:
        runner = ActionRunner(journal)
        engine = RoutineEngine(_routines(rule), EVENING, runner, journal=journal, source_name="test")
        for block in decision_blocks(quick_config(), WALK_IN + LEAVE):
            engine.process(block, [journal.record_event(e, EVENING.wall(e.time_s), "test") for e in block.events])
        assert runner.drain(timeout_s=30)
        runner.close()
        quiet = [e for e in journal.events() if e.event == "no_motion_for"]
        assert len(quiet) == 1 and quiet[0].time_s == pytest.approx(WALK_SHOWN_S + 2.5, abs=0.03)
        assert quiet[0].wall_time == EVENING.wall(quiet[0].time_s)
        (delivery,) = journal.deliveries_for([quiet[0].id])[quiet[0].id]
        assert (delivery.routine, delivery.status) == ("lights off", "delivered")
        assert out.read_text() == "lights off no_motion_for \n"


@pytest.mark.parametrize("rule, key, words", [
    ({"trigger": "vacant", "actions": [_command("x")]}, "routines.0.name", "Field required"),
    ({"name": "a", "trigger": "sunset", "actions": [_command("x")]}, "routines.0.trigger", "'motion'"),
    ({"name": "a", "trigger": "no_motion_for", "actions": [_command("x")]}, "routines.0", "needs seconds"),
    ({"name": "a", "trigger": "vacant", "kind": "major", "actions": [_command("x")]}, "routines.0", "kind only"),
    ({"name": "a", "trigger": "vacant", "active_hours": "22-06", "actions": [_command("x")]}, "routines.0.active_hours", "pattern"),
    ({"name": "a", "trigger": "vacant", "actions": [{"type": "webhook", "url": "ftp://x"}]}, "routines.0.actions.0.webhook.url", "pattern"),
    ({"name": "a", "trigger": "vacant", "actions": [{"type": "command", "argv": "rm -rf /"}]}, "routines.0.actions.0.command.argv", "list"),
    ({"name": "a", "trigger": "vacant", "actions": [{"type": "mqtt", "topic": "x/$room"}]}, "routines.0.actions.0.mqtt", "room"),
    ({"name": "a", "trigger": "vacant", "actions": []}, "routines.0.actions", "at least 1"),
])
def test_a_bad_rule_is_one_error_naming_the_key(rule, key, words):
    with pytest.raises(ConfigError) as err:
        config_from_dict({"routines": [rule]})
    assert f"'{key}'" in str(err.value) and words in str(err.value)


def test_routines_file_joins_the_config_and_names_must_be_unique(tmp_path):
    extra = tmp_path / "routines.toml"
    extra.write_text('[[routines]]\nname = "b"\ntrigger = "vacant"\nactions = [{type = "command", argv = ["true"]}]\n')
    config = tmp_path / "uspd.toml"
    config.write_text(f'[live]\nroutines_file = "{extra}"\n\n[[routines]]\nname = "a"\ntrigger = "occupied"\n'
                      'actions = [{type = "command", argv = ["true"]}]\n')
    assert [r.name for r in load_routines(load_config(config))] == ["a", "b"]
    extra.write_text(extra.read_text().replace('"b"', '"a"'))
    with pytest.raises(ConfigError, match="two routines are named 'a'"):
        load_routines(load_config(config))
    extra.write_text("[mqtt]\nhost = 'x'\n")
    with pytest.raises(ConfigError, match="may only hold routines tables, found 'mqtt'"):
        load_routines(load_config(config))
