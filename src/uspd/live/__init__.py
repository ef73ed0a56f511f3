"""Live operation: sources, the live chain, the event journal, routines and MQTT.

``uspd run`` puts them together; ``docs/live.md`` is the user's guide.
"""
